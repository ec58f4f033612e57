// Which lessons a student has marked done, kept in this browser only (localStorage): no
// account needed, nothing sent anywhere.

const KEY = "glassbox.lessons.done";

export function doneLessons() {
  try {
    const value = JSON.parse(window.localStorage.getItem(KEY) || "[]");
    return new Set(Array.isArray(value) ? value : []);
  } catch (e) {
    return new Set();
  }
}

export function setDone(slug, done) {
  const set = doneLessons();
  if (done) set.add(slug);
  else set.delete(slug);
  try {
    window.localStorage.setItem(KEY, JSON.stringify([...set]));
  } catch (e) {
    /* private mode: progress lasts for this page only */
  }
  return set;
}

// The course page: marks the lessons this browser has done, and says how far along it is.

import { doneLessons } from "./progress.js";

const done = doneLessons();
const items = [...document.querySelectorAll(".course-item")];
let count = 0;
for (const item of items) {
  const isDone = done.has(item.dataset.slug);
  item.classList.toggle("is-done", isDone);
  item.querySelector(".course-done").hidden = !isDone;
  if (isDone) count += 1;
}
const progress = document.getElementById("course-progress");
if (progress && items.length) {
  progress.hidden = false;
  progress.textContent = count ? `You have done ${count} of ${items.length} lessons.` : "Your progress is kept in this browser.";
}

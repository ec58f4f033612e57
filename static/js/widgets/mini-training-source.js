// Where lesson 13's mini training run gets its text (mini-training.js): the Shakespeare
// excerpt the server trains on by default (cut from the training corpus; the page fetches
// the very text the trainer reads), or whatever the student typed or pasted instead. The
// request names the excerpt instead of sending it.

const EXCERPT_URL = "/lessons/texts/forum-scene/";

let excerpt = null;

/** {name, text} of the excerpt, fetched once per page; rejects with the server's reason
 *  (for example: no corpus installed, so the student pastes a text instead). */
export async function loadExcerpt() {
  if (excerpt === null) {
    const response = await fetch(EXCERPT_URL, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `The Shakespeare excerpt could not be loaded (${response.status}).`);
    excerpt = { name: body.name, text: body.text };
  }
  return excerpt;
}

/** The `source` and `text` fields of a `train` request for what the text box holds. */
export function sourceFields(text, excerptText) {
  return text === excerptText ? { source: "excerpt" } : { source: "text", text };
}

// A lesson page: mounts every widget the lesson embeds (static/js/widgets/NAME.js, each
// exporting mount(root, lesson)), answers the questions with feedback, and keeps the
// "done" mark. A widget that fails to load says so in its own box; the text still reads.

import { LessonClient } from "./lesson-client.js";
import { doneLessons, setDone } from "./progress.js";

const config = JSON.parse(document.getElementById("page-config").textContent);
const lesson = new LessonClient(config);
window.glassboxLesson = lesson; // for the browser tests and the curious

function showWidgetProblem(root, text) {
  root.replaceChildren();
  lesson.status(root, "error", text);
}

async function mountWidgets() {
  for (const root of document.querySelectorAll("figure.widget[data-widget]")) {
    const name = root.dataset.widget;
    if (!config.model) {
      showWidgetProblem(root, "This widget needs a model, and none is installed on this server.");
      continue;
    }
    try {
      const module = await import(`${config.widget_base}${name}.js`);
      root.replaceChildren();
      await module.mount(root, lesson);
      root.dataset.mounted = "true";
    } catch (err) {
      console.error(err);
      showWidgetProblem(root, `The ${name} widget could not start: ${err.message}`);
    }
  }
}

function setUpQuestions() {
  for (const form of document.querySelectorAll("form.question")) {
    const feedback = form.querySelector(".question-feedback");
    const explanation = form.querySelector(".question-explanation");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const picked = form.querySelector("input[type=radio]:checked");
      if (!picked) {
        feedback.dataset.state = "empty";
        feedback.textContent = "Pick an answer first.";
        return;
      }
      const right = Number(picked.value) === Number(form.dataset.answer);
      feedback.dataset.state = right ? "right" : "wrong";
      feedback.textContent = right ? "Right." : "Not quite. Read the explanation, then try again.";
      for (const label of form.querySelectorAll(".choice")) label.classList.remove("is-right", "is-wrong");
      picked.closest(".choice").classList.add(right ? "is-right" : "is-wrong");
      explanation.open = true;
    });
  }
}

function setUpDone() {
  const button = document.getElementById("mark-done");
  const slug = config.lesson.slug;
  const show = (done) => {
    button.setAttribute("aria-pressed", String(done));
    button.textContent = done ? "Done ✓ (click to undo)" : "Mark this lesson as done";
  };
  show(doneLessons().has(slug));
  button.addEventListener("click", () => {
    const done = button.getAttribute("aria-pressed") !== "true";
    setDone(slug, done);
    show(done);
  });
}

setUpQuestions();
setUpDone();
mountWidgets();

// paper gets every explanation: open them for printing, close them again after
window.addEventListener("beforeprint", () => {
  for (const details of document.querySelectorAll(".question-explanation:not([open])")) {
    details.dataset.openedForPrint = "true";
    details.open = true;
  }
});
window.addEventListener("afterprint", () => {
  for (const details of document.querySelectorAll("[data-opened-for-print]")) {
    details.open = false;
    delete details.dataset.openedForPrint;
  }
});

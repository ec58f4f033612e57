// Lesson 14's widget, "Knock out and steer": (1) the Δ ln p grid of every attention head
// for a target token, with clicks that run the model without chosen heads and show the top
// next tokens before and after (ablation-steering-ablate.js, -grid.js); (2) a steering
// direction from two contrasting prompts, added with a chosen strength while the model
// writes, beside the same seed's plain text (ablation-steering-steer.js). Every number
// comes from the server's replies.

import { el } from "./ablation-steering-kit.js";
import { mountAblation } from "./ablation-steering-ablate.js";
import { mountSteering } from "./ablation-steering-steer.js";

export function mount(root, lesson) {
  root.classList.add("as");
  root.append(el("h3", "as-title", "Knock out and steer"));
  lesson.status(root, "running", "Asking the model…");
  const ablation = el("section", "as-part as-ablation");
  const steering = el("section", "as-part as-steering");
  root.append(ablation, steering);
  mountAblation(ablation, root, lesson);
  mountSteering(steering, root, lesson);
}

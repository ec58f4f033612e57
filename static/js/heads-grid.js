// The small multiples: one little canvas per (layer, head), laid out layers × heads.
// They behave as one radio group: click, or arrow keys then Enter/Space, picks the
// layer and head the main heatmap shows.

import { fitCanvas } from "./heatmap.js";

export class HeadsGrid {
  /**
   * grid: the #heads-grid element (gets only canvases); columns/rows: label containers.
   * onSelect(layer, head) is called when the user picks a map.
   */
  constructor(grid, columns, rows, onSelect) {
    this.grid = grid;
    this.columns = columns;
    this.rows = rows;
    this.onSelect = onSelect;
    this.canvases = [];
    this.nLayer = 0;
    this.nHead = 0;
    this.selected = { layer: 0, head: 0 };
    grid.addEventListener("click", (event) => {
      const canvas = event.target.closest("canvas");
      if (canvas) this.pick(Number(canvas.dataset.layer), Number(canvas.dataset.head));
    });
    grid.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** Build the canvases for a model of nLayer × nHead. */
  build(nLayer, nHead) {
    this.nLayer = nLayer;
    this.nHead = nHead;
    this.grid.replaceChildren();
    this.columns.replaceChildren();
    this.rows.replaceChildren();
    this.canvases = [];
    this.grid.parentElement.style.setProperty("--heads", String(nHead));
    this.grid.parentElement.style.setProperty("--layers", String(nLayer));
    for (let head = 0; head < nHead; head += 1) {
      const label = document.createElement("span");
      label.textContent = `H${head + 1}`;
      this.columns.append(label);
    }
    for (let layer = 0; layer < nLayer; layer += 1) {
      const label = document.createElement("span");
      label.textContent = `L${layer + 1}`;
      this.rows.append(label);
      for (let head = 0; head < nHead; head += 1) {
        const canvas = document.createElement("canvas");
        canvas.className = "head-map";
        canvas.dataset.layer = String(layer);
        canvas.dataset.head = String(head);
        canvas.setAttribute("role", "radio");
        canvas.setAttribute("aria-label", `Layer ${layer + 1}, head ${head + 1}`);
        canvas.tabIndex = -1;
        canvas.textContent = `Attention map of layer ${layer + 1}, head ${head + 1}`;
        this.grid.append(canvas);
        this.canvases.push(canvas);
      }
    }
    this.mark();
  }

  canvas(layer, head) {
    return this.canvases[layer * this.nHead + head] || null;
  }

  pick(layer, head, focus = false) {
    if (layer < 0 || head < 0 || layer >= this.nLayer || head >= this.nHead) return;
    this.select(layer, head);
    if (focus) this.canvas(layer, head).focus();
    this.onSelect(layer, head);
  }

  /** Mark (layer, head) as the chosen one, without telling anyone. */
  select(layer, head) {
    this.selected = { layer, head };
    this.mark();
  }

  mark() {
    for (const canvas of this.canvases) {
      const on = Number(canvas.dataset.layer) === this.selected.layer
        && Number(canvas.dataset.head) === this.selected.head;
      canvas.setAttribute("aria-checked", on ? "true" : "false");
      canvas.tabIndex = on ? 0 : -1;
    }
  }

  onKey(event) {
    const canvas = event.target.closest("canvas");
    if (!canvas) return;
    let layer = Number(canvas.dataset.layer);
    let head = Number(canvas.dataset.head);
    switch (event.key) {
      case "ArrowLeft": head -= 1; break;
      case "ArrowRight": head += 1; break;
      case "ArrowUp": layer -= 1; break;
      case "ArrowDown": layer += 1; break;
      case "Home": head = 0; break;
      case "End": head = this.nHead - 1; break;
      case "Enter":
      case " ":
        event.preventDefault();
        this.pick(layer, head, true);
        return;
      default: return;
    }
    event.preventDefault();
    this.pick(layer, head, true);
  }

  /** Redraw every small map from the raster cache; n = tokens so far. */
  draw(raster, n, recorded) {
    for (const canvas of this.canvases) {
      const layer = Number(canvas.dataset.layer);
      const head = Number(canvas.dataset.head);
      const size = canvas.clientWidth || 60;
      const ctx = fitCanvas(canvas, size, size);
      ctx.clearRect(0, 0, size, size);
      const image = raster && n ? raster.image(layer, head) : null;
      if (image) {
        ctx.fillStyle = "#eef0f2";
        ctx.fillRect(0, 0, size, size);
        ctx.imageSmoothingEnabled = n > size;
        const src = Math.min(n, image.width);
        ctx.drawImage(image, 0, 0, src, src, 0, 0, (size * src) / n, (size * src) / n);
      } else {
        ctx.fillStyle = "#f1f3f5";
        ctx.fillRect(0, 0, size, size);
        if (n && recorded && !recorded.has(layer)) {
          ctx.fillStyle = "#868e96";
          ctx.font = `${Math.max(10, Math.round(size / 6))}px system-ui, sans-serif`;
          ctx.textAlign = "center";
          ctx.textBaseline = "middle";
          ctx.fillText("not sent", size / 2, size / 2);
        }
      }
    }
  }
}

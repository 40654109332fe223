// Candidates view of "Foley Select Best": the video plays with the selected candidate's audio; under it one
// spectrogram strip per candidate, placed on the video's timeline, with its scores and a shared playhead.
// A click on a strip selects that candidate: it is heard at once and, through the node's `choice` widget,
// passed downstream on the next run. So that the next run keeps these candidates (rather than sampling new ones
// because the sampler's seed control is on `randomize`), the click also sets each seed upstream (the node reports
// them) back to the value these candidates came from and its control to `fixed`: the sampling is then found in
// ComfyUI's cache and only the pick runs again. A note under the strips says what was changed, and its button
// undoes it (the control goes back to what it was, `choice` to -1).
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const STYLE = `
.foley-candidates { display: flex; flex-direction: column; gap: 4px; width: 100%; height: 100%; color: #ddd;
  font: 11px/1.3 sans-serif; box-sizing: border-box; overflow: hidden; }
.foley-candidates video { width: 100%; max-height: 220px; background: #000; flex: none; }
.foley-candidates .foley-transport { display: flex; gap: 6px; align-items: center; flex: none; }
.foley-candidates .foley-strips { position: relative; display: flex; flex-direction: column; gap: 3px; flex: none; }
.foley-candidate { display: flex; align-items: center; gap: 6px; cursor: pointer; border-radius: 3px;
  padding: 1px 2px; border: 1px solid transparent; }
.foley-candidate[data-selected="true"] { border-color: #6cf; background: rgba(102, 204, 255, 0.12); }
.foley-candidate .foley-label { width: 170px; flex: none; white-space: nowrap; overflow: hidden; }
.foley-candidate .foley-timeline { position: relative; flex: 1; height: 36px; background: #181818; }
.foley-candidate .foley-timeline img { position: absolute; top: 0; height: 100%; image-rendering: auto; }
.foley-playhead { position: absolute; top: 0; bottom: 0; width: 2px; background: #f55; pointer-events: none; }
.foley-best { color: #8f8; font-weight: bold; }
.foley-kept { display: flex; gap: 6px; align-items: center; flex: none; color: #cde; }
.foley-kept button { flex: none; }
`;

function viewUrl(file) {
  const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder ?? "", type: file.type });
  return api.apiURL(`/view?${query}`);
}

function fixed(value, digits) {  // numbers only: the payload is data, never markup (a prompt can carry any dict)
  const number = Number(value);
  return Number.isFinite(number) ? number.toFixed(digits) : "–";
}

function label(candidate, best) {  // two lines that fit the label's 170 px (the CLAP score was cut off)
  const element = document.createElement("div");
  element.className = "foley-label";
  const index = Number(candidate.index);
  const offset = Number(candidate.offset);
  element.append(`#${Number.isInteger(index) ? index : "?"}`);
  if (index === Number(best)) {
    const mark = document.createElement("span");
    mark.className = "foley-best";
    mark.textContent = "best";
    element.append(" ", mark);
  }
  element.append(` · offset ${offset >= 0 ? "+" : ""}${fixed(offset, 2)} s`, document.createElement("br"),
    `DeSync ${fixed(candidate.desync, 2)} s · CLAP ${fixed(candidate.clap, 3)}`);
  return element;
}

class CandidatesView {
  constructor(node) {
    this.node = node;
    this.root = document.createElement("div");
    this.root.className = "foley-candidates";
    this.widget = node.addDOMWidget("foley_candidates", "foley_candidates", this.root, {
      serialize: false, getMinHeight: () => this.height(), getMaxHeight: () => this.height(),
    });
    this.view = null;
    this.pinned = [];  // [{ widget, control, was }]: seed controls the last click set to fixed
    this.note = null;
  }

  height() {
    const rows = this.view ? this.view.candidates.length : 0;
    // video (220) or transport (~26) + gap, rows of 40 px + 3 px gaps, the note (two lines), the widget's margins
    return (this.view?.video ? 224 : 34) + rows * 43 + (this.note ? 36 : 0) + 24;
  }

  // seconds of the timeline the strips are drawn on: the video's, or the audio window's without a video
  span() {
    const duration = this.video?.duration;
    return Number.isFinite(duration) && duration > 0 ? duration : this.view.start_time + this.view.seconds;
  }

  clock() {  // where the playhead is, in video seconds
    return this.video ? this.video.currentTime : this.view.start_time + this.audio.currentTime;
  }

  show(view) {
    if (this.audio) {  // a new run: the previous candidates stop (else their audio plays on, unreachable)
      this.audio.pause();
      this.audio.removeAttribute("src");
      this.audio.load();
    }
    this.view = view;
    this.fraction = null;
    this.root.replaceChildren();
    this.audio = new Audio();
    this.audio.preload = "auto";
    this.video = null;
    if (view.video) {
      this.video = document.createElement("video");
      this.video.src = viewUrl(view.video);
      this.video.controls = true;
      this.video.muted = true;  // the sound is the selected candidate's, played in step with the picture
      for (const event of ["play", "pause", "seeked", "ratechange"]) {
        this.video.addEventListener(event, () => this.follow());
      }
      this.video.addEventListener("loadedmetadata", () => this.layout());
      this.root.append(this.video);
    } else {
      const transport = document.createElement("div");
      transport.className = "foley-transport";
      const play = document.createElement("button");
      play.textContent = "play / pause";
      play.onclick = () => (this.audio.paused ? this.audio.play() : this.audio.pause());
      transport.append(play, document.createTextNode("no video connected: audio only"));
      this.root.append(transport);
    }
    this.strips = document.createElement("div");
    this.strips.className = "foley-strips";
    this.rows = view.candidates.map(candidate => {
      const row = document.createElement("div");
      row.className = "foley-candidate";
      row.dataset.index = Number(candidate.index);
      row.dataset.desync = Number(candidate.desync);
      row.dataset.clap = candidate.clap === null || candidate.clap === undefined ? "" : Number(candidate.clap);
      const text = label(candidate, view.best);
      const timeline = document.createElement("div");
      timeline.className = "foley-timeline";
      const image = document.createElement("img");
      image.src = viewUrl(candidate.spectrogram);
      image.alt = `spectrogram of candidate ${Number(candidate.index)}`;
      timeline.append(image);
      row.append(text, timeline);
      row.addEventListener("click", event => { event.stopPropagation(); this.select(candidate.index); });
      this.strips.append(row);
      return row;
    });
    this.playhead = document.createElement("div");
    this.playhead.className = "foley-playhead";
    this.strips.append(this.playhead);
    this.kept = document.createElement("div");
    this.kept.className = "foley-kept";
    this.root.append(this.strips, this.kept);
    this.showNote();
    this.select(view.selected, false);
    this.layout();
    this.node.setSize([Math.max(this.node.size[0], 560), this.node.computeSize()[1]]);
    this.node.setDirtyCanvas(true, true);
    if (!this.ticking) {
      this.ticking = true;
      this.tick();
    }
  }

  layout() {  // strips and playhead on the timeline of the video
    const span = this.span();
    for (const row of this.rows) {
      const image = row.querySelector("img");
      image.style.left = `${(100 * this.view.start_time) / span}%`;
      image.style.width = `${(100 * this.view.seconds) / span}%`;
    }
  }

  select(index, remember = true) {
    this.selected = index;
    for (const row of this.rows) row.dataset.selected = String(Number(row.dataset.index) === index);
    const candidate = this.view.candidates.find(c => c.index === index);
    if (!candidate) return;  // a payload not made by FoleySelectBest: show the strips, play nothing
    const playing = this.video ? !this.video.paused : !this.audio.paused;
    this.audio.src = viewUrl(candidate.audio);
    this.follow(playing);
    if (remember) {
      this.setChoice(index);
      this.note = `#${index} goes downstream on the next Run. ${this.keepCandidates()}`;
      this.showNote();
    }
  }

  setChoice(index) {
    const choice = this.node.widgets?.find(w => w.name === "choice");
    if (choice) {
      choice.value = index;
      choice.callback?.(index);
    }
  }

  // The seeds these candidates came from, set back on their nodes with the control on fixed -> what was done.
  keepCandidates() {
    const seeds = this.view.seeds ?? [];
    if (!seeds.length) return "No seed was found upstream: if the next Run samples again, it passes on this index of the new candidates.";
    const done = [];
    for (const seed of seeds) {
      const node = this.node.graph?.getNodeById(Number(seed.node)) ?? this.node.graph?.getNodeById(seed.node);
      const widget = node?.widgets?.find(w => w.name === seed.input);
      const name = `${node?.title ?? seed.class_type} (node ${seed.node})`;
      if (!widget) {
        done.push(`The seed of ${name} could not be set here: set it to ${seed.value}, control fixed, to keep these candidates.`);
        continue;
      }
      const control = widget.linkedWidgets?.find(w => w.name === "control_after_generate")
        ?? node.widgets.find(w => w.name === "control_after_generate");
      const changed = [];
      if (widget.value !== seed.value) {
        changed.push(`${seed.input} back to ${seed.value} (it had moved on to ${widget.value})`);
        widget.value = seed.value;
        widget.callback?.(seed.value);
      }
      if (control && control.value !== "fixed") {
        if (!this.pinned.some(p => p.control === control)) this.pinned.push({ control, was: control.value });
        changed.push(`its control from ${control.value} to fixed`);
        control.value = "fixed";
        control.callback?.("fixed");
      }
      done.push(changed.length
        ? `To keep these candidates instead of sampling new ones, ${name} got ${changed.join(" and ")}.`
        : `${name} keeps seed ${seed.value} (fixed): these candidates are kept.`);
    }
    this.node.setDirtyCanvas(true, true);
    return done.join(" ");
  }

  showNote() {
    this.kept.replaceChildren();
    this.kept.style.display = this.note ? "" : "none";
    if (this.note) {
      const text = document.createElement("span");
      text.textContent = this.note;
      this.kept.append(text);
      if (this.pinned.length) {
        const undo = document.createElement("button");
        undo.textContent = "new candidates";
        undo.title = "Put the seed control back and pass on the best: the next Run samples new candidates.";
        undo.onclick = event => { event.stopPropagation(); this.newCandidates(); };
        this.kept.append(undo);
      }
    }
    this.node.setSize([this.node.size[0], this.node.computeSize()[1]]);
    this.node.setDirtyCanvas(true, true);
  }

  newCandidates() {
    const restored = this.pinned.map(p => {
      p.control.value = p.was;
      p.control.callback?.(p.was);
      return p.was;
    });
    this.pinned = [];
    this.setChoice(-1);
    this.note = `The next Run samples new candidates (seed control back to ${[...new Set(restored)].join(", ")}) and passes on the best.`;
    this.showNote();
  }

  follow(playing = this.video ? !this.video.paused : !this.audio.paused) {
    if (!this.video) return;
    const offset = this.video.currentTime - this.view.start_time;
    const inside = offset >= 0 && offset < this.view.seconds;
    this.audio.playbackRate = this.video.playbackRate;
    if (inside) this.audio.currentTime = offset;
    if (playing && inside) {
      this.starting = true;  // until play() settles: tick() must not restart it (a seek every frame)
      this.audio.play().catch(() => {}).finally(() => { this.starting = false; });
    } else this.audio.pause();
  }

  tick() {  // the playhead; the candidate's audio starts when the video reaches its window
    if (!this.node.graph) {  // the node was removed
      this.audio.pause();
      this.ticking = false;
      return;
    }
    // the timelines start after the label (170 px), the gap (6 px), the row's border and padding (1 + 2 px) and
    // end before its padding and border on the right (2 + 1 px); the style is only touched when it moves
    const fraction = Math.max(0, Math.min(1, this.clock() / this.span())).toFixed(5);
    if (fraction !== this.fraction) {
      this.fraction = fraction;
      this.playhead.style.left = `calc(179px + (100% - 182px) * ${fraction})`;
    }
    if (this.video && !this.video.paused && this.audio.paused && !this.starting) {
      const offset = this.video.currentTime - this.view.start_time;
      if (offset >= 0 && offset < this.view.seconds) this.follow(true);
    }
    requestAnimationFrame(() => this.tick());
  }
}

app.registerExtension({
  name: "HunyuanVideoFoley.Candidates",
  setup() {
    const style = document.createElement("style");
    style.textContent = STYLE;
    document.head.append(style);
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== "FoleySelectBest") return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      onExecuted?.apply(this, arguments);
      const view = output?.foley_candidates?.[0];
      if (!view) return;
      this.foleyCandidates ??= new CandidatesView(this);
      this.foleyCandidates.show(view);
    };
  },
});

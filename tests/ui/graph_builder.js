// In-page functions (run through page.evaluate, so each is self-contained): build a recipe (recipes.js) with the
// front end's own LiteGraph, lay it out, and check a loaded graph's layout.
'use strict';

// Create the nodes, set widgets by input name, connect by input/output name. -> { ids: {recipeId: nodeId} }
function createGraph(recipe) {
  const { app, LiteGraph: LG } = window;
  // widgets that name a model file or folder (Load Foley Scorers' `synchformer` and `clap` too)
  const FILE_WIDGETS = ['file', 'folder', 'synchformer', 'clap', 'unet_name', 'clip_name', 'clip_name1', 'clip_name2',
    'vae_name', 'image'];
  app.graph.clear();
  // a plain view: DOM widgets (the video preview) only size their node while drawn at a readable zoom
  app.canvas.ds.scale = 1;
  app.canvas.ds.offset[0] = 0;
  app.canvas.ds.offset[1] = 0;
  const byId = {};
  const fail = msg => { throw new Error(`${recipe.name}: ${msg}`); };
  const all = [...recipe.nodes];
  if (recipe.note) {
    all.unshift({ id: '__note', type: 'MarkdownNote', title: `Read me: ${recipe.title}`, widgets: { text: recipe.note } });
  }
  for (const spec of all) {
    const node = LG.createNode(spec.type);
    if (!node) fail(`unknown node type ${spec.type}`);
    app.graph.add(node);
    byId[spec.id] = node;
    if (spec.title) node.title = spec.title;
    for (const [name, value] of Object.entries(spec.widgets || {})) {
      const widget = (node.widgets || []).find(w => w.name === name);
      if (!widget) fail(`${spec.type} has no widget '${name}' (has ${(node.widgets || []).map(w => w.name)})`);
      // a combo value must be one of its options, except file names (files need not exist where this runs)
      const values = widget.options?.values;
      if (widget.type === 'combo' && Array.isArray(values) && !values.includes(value) && !FILE_WIDGETS.includes(name)) {
        fail(`${spec.type}.${name} = '${value}' is not one of ${JSON.stringify(values)}`);
      }
      widget.value = value;
      try { widget.callback?.(value, app.canvas, node); } catch (e) { /* previews may fail for absent files */ }
    }
    if (spec.models) node.properties.models = spec.models.map(m => ({ ...m }));
  }
  for (const spec of recipe.nodes) {
    for (const [input, source] of Object.entries(spec.in || {})) {
      const [srcId, output = '0'] = source.split('.');
      const from = byId[srcId], to = byId[spec.id];
      if (!from) fail(`${spec.id}.${input}: no node '${srcId}'`);
      const outSlot = /^\d+$/.test(output) ? Number(output) : from.findOutputSlot(output);
      const inSlot = to.findInputSlot(input);
      if (outSlot < 0 || !from.outputs[outSlot]) fail(`${srcId} (${from.type}) has no output '${output}'`);
      if (inSlot < 0) fail(`${spec.id} (${to.type}) has no input '${input}'`);
      if (!from.connect(outSlot, to, inSlot)) fail(`cannot connect ${source} -> ${spec.id}.${input}`);
    }
  }
  const ids = {};
  for (const [k, n] of Object.entries(byId)) ids[k] = n.id;
  return { ids };
}

// Lay out the graph made by createGraph: columns left to right, nodes stacked per column, bands (lists of recipe
// ids) stacked top to bottom, the note at the left, groups around their nodes. Returns the problems found.
function layoutGraph({ recipe, ids }) {
  const { app, LiteGraph: LG } = window;
  const TITLE = LG.NODE_TITLE_HEIGHT;
  const PAD = 20, GAP_Y = 30, GROUP_GAP_Y = 90, GAP_X = 90, MIN_W = 270, NOTE_W = 470;
  const node = rid => app.graph.getNodeById(ids[rid]);
  const groupOf = {};
  for (const g of recipe.groups || []) for (const rid of g.nodes) groupOf[rid] = g.title;
  // the sizes the front end gave the nodes (computeSize() overstates nodes with a video preview, whose height
  // follows their width), or the recipe's
  for (const spec of recipe.nodes) {
    const n = node(spec.id);
    if (spec.size) n.setSize([spec.size[0] || n.size[0], spec.size[1] || n.size[1]]);
  }
  const cols = [...new Set(recipe.nodes.map(s => s.col))].sort((a, b) => a - b);
  const colWidth = c => Math.max(MIN_W, ...recipe.nodes.filter(s => s.col === c).map(s => node(s.id).size[0]));
  // one width per column (nodes with a video preview keep theirs: their height follows their width)
  for (const c of cols) {
    const w = colWidth(c);
    for (const s of recipe.nodes.filter(s => s.col === c && s.type !== 'LoadVideo')) {
      node(s.id).setSize([w, node(s.id).size[1]]);
    }
  }
  // the note at the left, or (recipe.noteBelow) under the graph: a narrower graph is drawn larger when the front
  // end fits it to the window, and below about 57 % zoom it draws nodes without their text
  const noteBelow = !!recipe.noteBelow;
  const left = noteBelow ? 0 : NOTE_W + GAP_X + 20;
  const colX = {};
  let x = left;
  for (const c of cols) { colX[c] = x; x += Math.ceil(colWidth(c) / 10) * 10 + GAP_X; }
  const listed = new Set((recipe.bands || []).flat());
  const bands = [...(recipe.bands || []), recipe.nodes.map(s => s.id).filter(id => !listed.has(id))];
  let top = 0;
  for (const band of bands) {
    let bottom = top;
    for (const c of cols) {
      let y = top + TITLE + 50;   // room for a group title above the first node
      let prev = null;
      for (const spec of recipe.nodes.filter(s => s.col === c && band.includes(s.id))) {
        const n = node(spec.id);
        if (prev !== null) y += (groupOf[prev] === groupOf[spec.id] ? GAP_Y : GROUP_GAP_Y) + TITLE;
        n.pos = [colX[c], Math.round(y)];
        y += n.size[1];
        prev = spec.id;
      }
      bottom = Math.max(bottom, y);
    }
    top = bottom + 120;
  }
  const note = app.graph.getNodeById(ids.__note);
  if (note) {
    const width = noteBelow ? Math.max(NOTE_W, x - GAP_X) : NOTE_W;
    note.pos = noteBelow ? [0, top + TITLE] : [0, TITLE + 50];
    // a markdown widget does not grow with its text: estimate the height (about 72 characters in 470 px)
    const perLine = Math.floor(72 * width / NOTE_W);
    const lines = recipe.note.split('\n').reduce((k, l) => k + Math.max(1, Math.ceil(l.length / perLine)), 0);
    note.setSize([width, Math.max(noteBelow ? 120 : 300, 60 + 17 * lines)]);
  }
  const palette = LG.LGraphCanvas.node_colors;
  for (const g of recipe.groups || []) {
    const group = new LG.LGraphGroup(g.title);
    group.color = (palette[g.color] || palette.pale_blue).groupcolor;
    app.graph.add(group);
    const boxes = g.nodes.map(node).map(n => [n.pos[0], n.pos[1] - TITLE, n.size[0], n.size[1] + TITLE]);
    const x0 = Math.min(...boxes.map(b => b[0])) - PAD, y0 = Math.min(...boxes.map(b => b[1])) - PAD;
    const x1 = Math.max(...boxes.map(b => b[0] + b[2])) + PAD, y1 = Math.max(...boxes.map(b => b[1] + b[3])) + PAD;
    const title = Math.ceil(group.titleHeight);
    group.pos = [Math.floor(x0), Math.floor(y0) - title];
    group.size = [Math.ceil(x1 - Math.floor(x0)), Math.ceil(y1 - Math.floor(y0)) + title];
  }
  app.graph.setDirtyCanvas(true, true);
  return checkLayout();
}

// Problems of the current graph's layout: overlapping nodes, overlapping groups, a group holding a node that
// is not its own (groups move what lies inside them), a group title longer than its group. -> [strings]
function checkLayout() {
  const { app, LiteGraph: LG } = window;
  const TITLE = LG.NODE_TITLE_HEIGHT;
  const rect = n => [n.pos[0], n.pos[1] - TITLE, n.size[0], n.size[1] + TITLE];
  const overlap = (a, b) => a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
  const inside = (a, b) => a[0] >= b[0] && a[1] >= b[1] && a[0] + a[2] <= b[0] + b[2] && a[1] + a[3] <= b[1] + b[3];
  const nodes = app.graph.nodes, groups = app.graph.groups || app.graph._groups || [];
  const problems = [];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      if (overlap(rect(nodes[i]), rect(nodes[j]))) problems.push(`nodes overlap: ${nodes[i].title} / ${nodes[j].title}`);
    }
  }
  const gr = g => [...g._bounding];
  const ctx = document.createElement('canvas').getContext('2d');
  for (let i = 0; i < groups.length; i++) {
    ctx.font = `${groups[i].font_size}px Arial`;
    if (ctx.measureText(groups[i].title).width + 12 > groups[i]._bounding[2]) {
      problems.push(`group title wider than its group: ${groups[i].title}`);
    }
    for (let j = i + 1; j < groups.length; j++) {
      if (overlap(gr(groups[i]), gr(groups[j]))) problems.push(`groups overlap: ${groups[i].title} / ${groups[j].title}`);
    }
    for (const n of nodes) {
      const r = rect(n);
      if (overlap(r, gr(groups[i])) && !inside(r, gr(groups[i]))) {
        problems.push(`node ${n.title} sticks out of group ${groups[i].title}`);
      }
    }
  }
  return problems;
}

// Fit the graph into the canvas (what the front end does for a workflow without a saved view).
// `only`: node ids to fit (default: all nodes and groups). -> the fitted rectangle on the page
function fitGraph(margin = 40, only = null) {
  const { app, LiteGraph: LG } = window;
  const TITLE = LG.NODE_TITLE_HEIGHT;
  const nodes = only ? app.graph.nodes.filter(n => only.includes(n.id)) : app.graph.nodes;
  const boxes = [...nodes.map(n => [n.pos[0], n.pos[1] - TITLE, n.size[0], n.size[1] + TITLE]),
    ...(only ? [] : (app.graph.groups || []).map(g => [...g._bounding]))];
  if (!boxes.length) return;
  const x0 = Math.min(...boxes.map(b => b[0])), y0 = Math.min(...boxes.map(b => b[1]));
  const x1 = Math.max(...boxes.map(b => b[0] + b[2])), y1 = Math.max(...boxes.map(b => b[1] + b[3]));
  const el = app.canvas.canvas;
  const cw = el.clientWidth, ch = el.clientHeight;
  const scale = Math.min((cw - 2 * margin) / (x1 - x0), (ch - 2 * margin) / (y1 - y0), 1.5);
  const ds = app.canvas.ds;
  ds.scale = scale;
  ds.offset[0] = (cw / scale - (x1 - x0)) / 2 - x0;
  ds.offset[1] = (ch / scale - (y1 - y0)) / 2 - y0;
  app.canvas.setDirty(true, true);
  const r = el.getBoundingClientRect();
  return { x: r.left + (x0 + ds.offset[0]) * scale - margin / 2, y: r.top + (y0 + ds.offset[1]) * scale - margin / 2,
    width: (x1 - x0) * scale + margin, height: (y1 - y0) * scale + margin };
}

// True once every Load Video node shows its preview with the video's size known (the preview's height follows
// the video's aspect ratio, so layout and layout checks wait for it).
function previewsReady() {
  return window.app.graph.nodes.filter(n => n.type === 'LoadVideo').every(n => {
    const w = (n.widgets || []).find(x => x.name === 'video-preview');
    const el = w && w.element;
    const video = el && (el.tagName === 'VIDEO' ? el : el.querySelector('video'));
    // ... and the node has grown to hold it (the preview is as wide as the node, at the video's aspect ratio)
    return !!video && video.readyState >= 1 && video.videoWidth > 0
      && n.size[1] >= n.size[0] * video.videoHeight / video.videoWidth;
  });
}

// Redraw until no node changes size (DOM widgets such as the video preview resize their node when drawn).
async function settleSizes(timeoutMs = 10000) {
  const { app } = window;
  const sizes = () => JSON.stringify(app.graph.nodes.map(n => [Math.round(n.size[0]), Math.round(n.size[1])]));
  const t0 = Date.now();
  let last = null;
  while (Date.now() - t0 < timeoutMs) {
    app.canvas.setDirty(true, true);
    app.canvas.draw(true, true);
    await new Promise(r => setTimeout(r, 250));
    const now = sizes();
    if (now === last) return true;
    last = now;
  }
  return false;
}

module.exports = { createGraph, layoutGraph, checkLayout, fitGraph, previewsReady, settleSizes };

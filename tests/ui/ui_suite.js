// The browser half of tests/test_ui.py: one headless Chromium session against a running ComfyUI that has the
// pack, the tiny models and foley_example.mp4. It opens each shared workflow from the template browser as a user
// does, runs some from the Run button, and writes what it saw to a JSON file that the Python tests check.
//
//     node tests/ui/ui_suite.js BASE_URL CONFIG.json RESULTS.json ARTIFACT_DIR
//
// CONFIG: { "module": "<the pack's folder under custom_nodes>", "workflows": [names], "hunyuan": [names],
//           "run": [names queued from the UI], "steps": 2, "example_video": "foley_example.mp4",
//           "widgets": { name: { nodeType: { widget: value } } } (set before Run), "probe_workflow": path }
'use strict';
const fs = require('fs');
const path = require('path');
const { launch, openComfy, unexpected, openTemplateBrowser, templateCard, openFromTemplateBrowser, notices,
  missingReport, runButton } = require('./lib');

// the HunyuanVideo part (1.0 and 1.5, text or image to video) of the workflows in config.hunyuan, replaced for the
// run by frames from the example clip
const HUNYUAN_NODES = ['UNETLoader', 'DualCLIPLoader', 'VAELoader', 'CLIPVisionLoader', 'LoadImage', 'CLIPVisionEncode',
  'CLIPTextEncode', 'FluxGuidance', 'EmptyHunyuanLatentVideo', 'EmptyHunyuanVideo15Latent', 'HunyuanVideo15ImageToVideo',
  'ModelSamplingSD3', 'KSamplerSelect', 'BasicScheduler', 'RandomNoise', 'BasicGuider', 'CFGGuider',
  'SamplerCustomAdvanced', 'VAEDecode', 'VAEDecodeTiled'];

const since = (errors, n) => unexpected(errors.slice(n));

async function resetSeen(page) {
  await page.evaluate(() => {
    const s = window.__seen;
    s.missingNodes.length = 0; s.missingModels.length = 0; s.queued.length = 0; s.queueErrors.length = 0;
    s.events.length = 0;
  });
}

async function closeDialogs(page) {
  for (let i = 0; i < 3 && (await notices(page)).length; i++) {
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
  }
}

async function settle(page) {
  await page.waitForFunction(() => window.__fb.previewsReady(), null, { timeout: 30000 });
  await page.evaluate(() => window.__fb.settleSizes());
}

async function listTemplates(page, module, names, artifacts) {
  const dialog = await openTemplateBrowser(page, module, names);
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(artifacts, 'template_browser.png') });
  // a card's image is only there while the card is in view (the front end's LazyImage): scroll to each card in
  // turn and read its image
  const cards = [];
  for (const name of names) cards.push(await templateCard(page, name, names));
  const text = await dialog.innerText();
  await page.keyboard.press('Escape');
  await page.waitForTimeout(300);
  return { cards, text };
}

// The front end's default for LiteGraph.Canvas.MinFontSizeForLOD (the same in the front ends tested): below a zoom
// at which node text would be smaller than this many pixels it draws nodes as blank boxes. The server's settings
// file sets 0 (always full detail: DOM widgets such as the video preview size their nodes only while drawn in
// detail) for the other checks; a user has the default.
const DEFAULT_MIN_FONT_SIZE_FOR_LOD = 8;
const setLod = (page, v) => page.evaluate(x => window.app.extensionManager.setting.set('LiteGraph.Canvas.MinFontSizeForLOD', x), v);

// The workflow just opened as a user with the default level-of-detail setting sees it: the zoom the front end
// opened it at and whether it draws the nodes in low quality (no text), with a screenshot.
async function legibility(page, name, artifacts) {
  await setLod(page, DEFAULT_MIN_FONT_SIZE_FOR_LOD);
  try {
    const out = await page.evaluate(() => {
      const c = window.app.canvas;
      c.setDirty(true, true);
      c.draw(true, true);
      return { scale: c.ds.scale, low_quality: c.low_quality, min_font_size_for_lod: c.min_font_size_for_lod,
        canvas: [c.canvas.clientWidth, c.canvas.clientHeight] };
    });
    out.screenshot = path.join(artifacts, `${name}_opened_default_lod.png`);
    await page.screenshot({ path: out.screenshot });
    return out;
  } finally {
    await setLod(page, 0);
  }
}

async function openWorkflow(page, errors, module, name, artifacts) {
  const n0 = errors.length;
  await resetSeen(page);
  await closeDialogs(page);
  const before = new Set(await notices(page));   // e.g. 1.58's "Job completed" of the run before
  await openFromTemplateBrowser(page, module, name);
  const legible = await legibility(page, name, artifacts);
  await settle(page);
  await page.waitForTimeout(500);
  const info = await page.evaluate(() => ({
    nodeTypes: window.app.graph.nodes.map(n => n.type),
    unregistered: window.app.graph.nodes.map(n => n.type).filter(t => !(t in window.LiteGraph.registered_node_types)),
    groups: (window.app.graph.groups || []).map(g => g.title),
    layoutProblems: window.__fb.checkLayout(),
    activeWorkflow: window.app.extensionManager.workflow?.activeWorkflow?.filename ?? null,
    watched: { hooks: window.__seen.hooks, stores: window.__seen.stores },
  }));
  const missing = await missingReport(page);
  Object.assign(info, { missingNodes: missing.nodes, missingModels: missing.models, missingMedia: missing.media });
  info.notices = (await notices(page)).filter(t => !before.has(t));
  info.legibility = legible;
  const shot = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: shot });
  info.screenshot = shot;
  info.errors = since(errors, n0);
  return info;
}

async function setSteps(page, steps) {
  return page.evaluate(s => {
    const changed = [];
    for (const n of window.app.graph.nodes) {
      for (const w of n.widgets || []) {
        if (w.name === 'steps') { w.value = s; changed.push(n.type); }
      }
    }
    window.app.graph.setDirtyCanvas(true, true);
    return changed;
  }, steps);
}

// Set widgets by node type and name ({ type: { name: value } }), as a user would before Run. -> [[type, name, value]]
async function setWidgets(page, byType) {
  return page.evaluate(spec => {
    const changed = [];
    for (const n of window.app.graph.nodes) {
      for (const [name, value] of Object.entries(spec[n.type] || {})) {
        const w = (n.widgets || []).find(x => x.name === name);
        if (!w) throw new Error(`${n.type} has no widget ${name}`);
        w.value = value;
        w.callback?.(value, window.app.canvas, n);
        changed.push([n.type, name, w.value]);
      }
    }
    window.app.graph.setDirtyCanvas(true, true);
    return changed;
  }, byType);
}

// A HunyuanVideo workflow without HunyuanVideo: frames of the example clip (LoadVideo -> GetVideoComponents) go into the
// same Create Video, which feeds the Foley part as before.
async function replaceHunyuanPart(page, video) {
  return page.evaluate(([remove, file]) => {
    const { app, LiteGraph: LG } = window;
    const g = app.graph;
    const create = g.nodes.find(n => n.type === 'CreateVideo');
    for (const n of [...g.nodes]) if (remove.includes(n.type)) g.remove(n);
    const load = LG.createNode('LoadVideo');
    g.add(load);
    load.pos = [create.pos[0] - 700, create.pos[1]];
    load.widgets.find(w => w.name === 'file').value = file;
    const parts = LG.createNode('GetVideoComponents');
    g.add(parts);
    parts.pos = [create.pos[0] - 350, create.pos[1]];
    load.connect(0, parts, parts.findInputSlot('video'));
    parts.connect(parts.findOutputSlot('images'), create, create.findInputSlot('images'));
    g.setDirtyCanvas(true, true);
    return g.nodes.map(n => n.type);
  }, [HUNYUAN_NODES, video]);
}

// Press Run and wait for the prompt to finish. -> { status, prompt_id, error, outputs, queue_errors, seconds }
async function runFromUi(page, baseUrl, timeoutMs = 300000) {
  await resetSeen(page);
  const t0 = Date.now();
  await runButton(page).click();
  await page.waitForFunction(() => window.__seen.queued.length || window.__seen.queueErrors.length, null,
    { timeout: 30000 });
  const seen = await page.evaluate(() => window.__seen);
  if (!seen.queued.length) return { status: 'not queued', queue_errors: seen.queueErrors };
  const id = seen.queued[0].prompt_id;
  await page.waitForFunction(pid => window.__seen.events.some(e => e.data && e.data.prompt_id === pid
    && ['execution_success', 'execution_error', 'execution_interrupted'].includes(e.type)), id, { timeout: timeoutMs });
  const seconds = (Date.now() - t0) / 1000;
  const events = await page.evaluate(() => window.__seen.events);
  const end = events.find(e => e.data && e.data.prompt_id === id && e.type !== 'execution_start' && e.type !== 'executed');
  // the server stores the prompt's history just after it reports success: poll until it is there
  let history = {};
  for (const t1 = Date.now(); !history[id] && Date.now() - t1 < 30000;) {
    history = await page.evaluate(async ([u, pid]) => (await fetch(`${u}api/history/${pid}`)).json(), [baseUrl, id]);
    if (!history[id]) await page.waitForTimeout(200);
  }
  return {
    status: end.type === 'execution_success' ? 'success' : end.type,
    prompt_id: id, seconds,
    error: end.type === 'execution_error' ? { node_type: end.data.node_type, message: end.data.exception_message,
      traceback: (end.data.traceback || []).join('') } : null,
    outputs: (history[id] || {}).outputs || {},
    node_errors: seen.queued[0].node_errors,
  };
}

// The <video> the front end shows on the Save Video node for `filename` -> its duration in the page.
async function previewDuration(page, filename) {
  const handle = await page.waitForFunction(f => {
    const v = [...document.querySelectorAll('video')].find(x => (x.currentSrc || x.src || '').includes(f));
    if (!v) return null;
    if (v.error) return { error: v.error.code };
    return v.readyState >= 1 && Number.isFinite(v.duration) ? { duration: v.duration, src: v.currentSrc || v.src } : null;
  }, encodeURIComponent(filename), { timeout: 30000 });
  return handle.jsonValue();
}


// --- the candidates view of Foley Select Best (js/foley_candidates.js) ----------------------------------------

const CANDIDATES = 'candidates_to_best';

// The view's rows as the page shows them -> { rows: [{ index, text, selected, image }], video, audioSrc, ... }
const readView = page => page.evaluate(() => {
  const node = window.app.graph.nodes.find(n => n.type === 'FoleySelectBest');
  const root = node?.foleyCandidates?.root;
  if (!root || !root.isConnected) return null;
  const v = node.foleyCandidates;
  const choice = node.widgets.find(w => w.name === 'choice');
  return {
    node_id: node.id,
    rows: [...root.querySelectorAll('.foley-candidate')].map(r => {
      const img = r.querySelector('img');
      return { index: Number(r.dataset.index), text: r.innerText, selected: r.dataset.selected === 'true',
        desync: Number(r.dataset.desync), clap: r.dataset.clap === '' ? null : Number(r.dataset.clap),
        image: { loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth, height: img.naturalHeight,
          shown: img.getBoundingClientRect().width } };
    }),
    video: root.querySelector('video') ? { muted: root.querySelector('video').muted,
      readyState: root.querySelector('video').readyState, duration: root.querySelector('video').duration } : null,
    audio_src: v.audio.src, candidate_audio: v.view.candidates.map(c => c.audio.filename),
    best: v.view.best, selected: v.view.selected, choice: choice?.value, text: root.innerText,
    playhead: root.querySelector('.foley-playhead')?.getBoundingClientRect().left ?? null,
  };
});

async function waitForView(page, rows) {
  await page.waitForFunction(n => {
    const node = window.app.graph.nodes.find(x => x.type === 'FoleySelectBest');
    const root = node?.foleyCandidates?.root;
    if (!root) return false;
    const imgs = [...root.querySelectorAll('.foley-candidate img')];
    const video = root.querySelector('video');
    return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0) && (!video || video.readyState >= 2);
  }, rows, { timeout: 30000 });
}

// Bring the node into view at zoom 1 (DOM widgets are hidden when zoomed far out) and screenshot the view.
async function shootView(page, file) {
  await page.evaluate(() => {
    const node = window.app.graph.nodes.find(n => n.type === 'FoleySelectBest');
    const canvas = window.app.canvas;
    canvas.ds.scale = 1;
    canvas.centerOnNode(node);
    canvas.setDirty(true, true);
  });
  await page.waitForTimeout(600);
  await page.locator('.foley-candidates').first().screenshot({ path: file });
  return file;
}

// Play the (muted) video for `ms` and watch the page: playhead positions, requestAnimationFrame intervals and
// long tasks (> 50 ms, PerformanceObserver) while it plays.
const playAndWatch = (page, ms) => page.evaluate(async duration => {
  const node = window.app.graph.nodes.find(n => n.type === 'FoleySelectBest');
  const view = node.foleyCandidates;
  const media = view.video || view.audio;
  const head = () => view.root.querySelector('.foley-playhead').getBoundingClientRect().left;
  const longTasks = [];
  let observer = null;
  try {
    observer = new PerformanceObserver(list => { for (const e of list.getEntries()) longTasks.push(e.duration); });
    observer.observe({ type: 'longtask' });
  } catch (e) { /* no long-task API: intervals only */ }
  const start = { head: head(), time: media.currentTime };
  const frames = [];
  let last = performance.now();
  let on = true;
  const frame = now => { frames.push(now - last); last = now; if (on) requestAnimationFrame(frame); };
  let playError = null;
  await media.play().catch(e => { playError = String(e); });
  requestAnimationFrame(frame);
  const heads = [];
  for (let t = 0; t < duration; t += 250) {
    await new Promise(r => setTimeout(r, 250));
    heads.push(head());
  }
  on = false;
  const end = { head: head(), time: media.currentTime, audio_paused: view.audio.paused };
  media.pause();
  observer?.disconnect();
  const sorted = frames.slice(1).sort((a, b) => a - b);
  return { start, end, heads, long_tasks: longTasks, frames: sorted.length,
    max_frame_ms: sorted[sorted.length - 1] ?? null, p95_frame_ms: sorted[Math.floor(sorted.length * 0.95)] ?? null,
    observer: observer !== null, play_error: playError };
}, ms);

// Show `view` (a foley_candidates payload) on the node as if it had run.
const showView = (page, view) => page.evaluate(v => {
  const node = window.app.graph.nodes.find(n => n.type === 'FoleySelectBest');
  node.onExecuted({ foley_candidates: [v] });
}, view);

async function candidatesChecks(page, baseUrl, config, artifacts) {
  const out = {};
  await waitForView(page, 4);
  out.after_run = await readView(page);
  out.screenshot = await shootView(page, path.join(artifacts, 'candidates_view.png'));
  const original = await page.evaluate(() => window.app.graph.nodes.find(n => n.type === 'FoleySelectBest')
    .foleyCandidates.view);
  // a click on another candidate's strip
  const other = (out.after_run.selected + 1) % out.after_run.rows.length;
  out.clicked = other;
  const row = page.locator(`.foley-candidates .foley-candidate[data-index="${other}"] .foley-timeline`);
  out.click_how = 'mouse';
  await row.click({ timeout: 5000 }).catch(async () => {
    out.click_how = 'element.click()';
    await row.evaluate(e => e.click());
  });
  await page.waitForTimeout(300);
  out.after_click = await readView(page);
  await shootView(page, path.join(artifacts, 'candidates_view_clicked.png'));
  out.play = await playAndWatch(page, 1500);
  // without a video: the same candidates, audio only
  await showView(page, { ...original, video: undefined, selected: other });
  await waitForView(page, 4);
  out.audio_only = await readView(page);
  await shootView(page, path.join(artifacts, 'candidates_view_audio_only.png'));
  out.audio_only_play = await playAndWatch(page, 1000);
  // 60 s and 6 candidates (synthetic files from the Python side, in the input folder): is playing smooth?
  if (config.smooth_view) {
    await showView(page, config.smooth_view);
    await waitForView(page, config.smooth_view.candidates.length);
    out.smooth_view = await readView(page);
    await shootView(page, path.join(artifacts, 'candidates_view_60s.png'));
    await page.evaluate(() => {
      const v = window.app.graph.nodes.find(n => n.type === 'FoleySelectBest').foleyCandidates.video;
      v.currentTime = 20;
    });
    await page.waitForTimeout(500);
    out.smooth = await playAndWatch(page, 2500);
  }
  // back to the run's view with the clicked candidate, then Run again: the clicked one goes downstream
  await showView(page, { ...original, selected: other });
  await waitForView(page, 4);
  out.rerun = await runFromUi(page, baseUrl);
  return out;
}

// Load a broken `workflow` (as `probeName`) and collect what the front end reports missing of `kind` ('models' or
// 'nodes') and the notices it shows the user, once it has finished checking the model files with the server.
async function missingProbe(page, workflow, kind, probeName, artifacts) {
  await resetSeen(page);
  await closeDialogs(page);
  const before = new Set(await notices(page));
  await page.evaluate(([w, name]) => window.app.loadGraphData(w, true, true, name), [workflow, probeName]);
  await page.waitForFunction(k => window.__foleyMissing()[k].length && !window.__foleyMissing().busy, kind,
    { timeout: 30000 });
  await page.waitForTimeout(1000);
  const result = { warned: (await missingReport(page))[kind],
    notices: (await notices(page)).filter(t => !before.has(t)) };
  await page.screenshot({ path: path.join(artifacts, `${probeName}.png`) });
  await closeDialogs(page);
  return result;
}

// A loader whose file is missing: the front end reports it (with its directory and download address) and tells the
// user (1.32: a missing-models dialog; 1.49 and later: an error overlay).
async function missingModelProbe(page, workflowPath, artifacts) {
  const wf = JSON.parse(fs.readFileSync(workflowPath, 'utf8'));
  const node = wf.nodes.find(n => n.type === 'FoleyModelLoader');
  const missing = 'hunyuanvideo_foley_not_there.pth';
  node.widgets_values = node.widgets_values.map(v => (v === node.properties.models[0].name ? missing : v));
  node.properties.models[0].name = missing;
  return missingProbe(page, wf, 'models', 'missing_model_probe', artifacts);
}

// A node type no pack registers (a Foley node renamed): the front end reports it as missing and tells the user.
async function missingNodeProbe(page, workflowPath, artifacts) {
  const wf = JSON.parse(fs.readFileSync(workflowPath, 'utf8'));
  wf.nodes.find(n => n.type === 'FoleySampler').type = 'FoleyNodeThatIsNotThere';
  return missingProbe(page, wf, 'nodes', 'missing_node_probe', artifacts);
}

(async () => {
  const [base, configPath, outPath, artifacts] = process.argv.slice(2);
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  const url = base.replace(/\/?$/, '/');
  fs.mkdirSync(artifacts, { recursive: true });
  // timing: seconds spent per phase (reported by the Python side, never asserted)
  const results = { open: {}, runs: {}, timing: { opening: 0, runs: 0 } };
  const took = (phase, since) => { results.timing[phase] = (results.timing[phase] || 0) + (Date.now() - since) / 1000; };
  const write = () => fs.writeFileSync(outPath, JSON.stringify(results, null, 1));
  const t0 = Date.now();
  const { ctx, close } = await launch({ width: 1600, height: 1000 });
  try {
    const { page, errors, templateResponses } = await openComfy(ctx, url);
    results.template_responses = templateResponses;   // filled as the browser fetches; written at the end
    results.ready_s = (Date.now() - t0) / 1000;
    took('start', t0);
    results.startup_errors = since(errors, 0);
    results.templates_api = await page.evaluate(async u => (await fetch(`${u}api/workflow_templates`)).json(), url);
    let n0 = errors.length;
    let t = Date.now();
    results.template_browser = await listTemplates(page, config.module, config.workflows, artifacts);
    took('template_browser', t);
    results.template_browser.errors = since(errors, n0);
    write();

    for (const name of config.workflows) {
      t = Date.now();
      results.open[name] = await openWorkflow(page, errors, config.module, name, artifacts);
      results.open[name].seconds = (Date.now() - t) / 1000;
      took('opening', t);
      write();
      if (!config.run.includes(name)) continue;
      t = Date.now();
      n0 = errors.length;
      const run = { steps_set_on: await setSteps(page, config.steps) };
      run.widgets_set = await setWidgets(page, (config.widgets || {})[name] || {});
      // what Run sends (for a HunyuanVideo workflow: the full graph, before its HunyuanVideo part is swapped out)
      run.api_prompt = (await page.evaluate(() => window.app.graphToPrompt())).output;
      if ((config.hunyuan || []).includes(name)) run.nodes_after_swap = await replaceHunyuanPart(page, config.example_video);
      Object.assign(run, await runFromUi(page, url));
      const saved = Object.values(run.outputs || {}).flatMap(o => o.images || []).filter(i => /\.(mp4|webm|mov)$/.test(i.filename));
      if (run.status === 'success' && saved.length) {
        await page.waitForTimeout(500);
        run.preview = await previewDuration(page, saved[0].filename).catch(e => ({ error: String(e) }));
      }
      await page.screenshot({ path: path.join(artifacts, `${name}_run.png`) });
      run.errors = since(errors, n0);
      results.runs[name] = run;
      took('runs', t);
      write();
      if (name === CANDIDATES && run.status === 'success') {
        t = Date.now();
        n0 = errors.length;
        results.candidates = await candidatesChecks(page, url, config, artifacts);
        results.candidates.errors = since(errors, n0);
        took('candidates_view', t);
        write();
      }
    }
    n0 = errors.length;
    t = Date.now();
    results.missing_model_probe = await missingModelProbe(page, config.probe_workflow, artifacts);
    results.missing_model_probe.errors = since(errors, n0);
    took('missing_model_probe', t);
    n0 = errors.length;
    t = Date.now();
    results.missing_node_probe = await missingNodeProbe(page, config.probe_workflow, artifacts);
    results.missing_node_probe.errors = since(errors, n0);
    took('missing_node_probe', t);
    results.all_errors = errors;
  } catch (e) {
    results.crash = String(e && e.stack || e);
  } finally {
    results.total_s = (Date.now() - t0) / 1000;
    results.timing.total = results.total_s;
    write();
    await close();
  }
})().catch(e => { console.error(e); process.exit(2); });

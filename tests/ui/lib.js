// Shared helpers of the browser scripts (build_workflows.js, ui_suite.js): start Debian's chromium through
// playwright-core, open ComfyUI's front end, collect console and page errors, tell benign ones apart.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const builder = require('./graph_builder');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];

// Console errors of the stock front end (1.32.9 on ComfyUI 0.3.75, fresh user dir, no templates package, no
// network) that say nothing about this pack. Everything else fails the tests.
const BENIGN = [
  // files a fresh user directory does not have (user.css, saved workflows/subgraphs, the template order file)
  { why: 'absent user files', rx: /status of 404 .*"url":"[^"]*\/(api\/userdata\/user\.css|user\.css|favicon\.ico|api\/userdata\?dir=(workflows|subgraphs)[^"]*|api\/userdata\/comfy\.templates\.json)"/ },
  // the core template index: the comfyui-workflow-templates package (~93 MB of media) is not installed in CI
  { why: 'core templates not installed', rx: /status of 404 .*"url":"[^"]*\/templates\/index(\.[a-z-]+)?\.json"/ },
  { why: 'core templates not installed', rx: /^console: Error loading core workflow templates: AxiosError/ },
  // front-end start-up bug, also without any custom node: a settings watcher reads `.id` of no workflow yet
  { why: 'front-end start-up bug', rx: /^console: TypeError: Cannot read properties of undefined \(reading 'id'\)\n\s+at onChange / },
  // the front end looks nodes up in Comfy's online registry; the page's CSP blocks it (no network wanted anyway)
  { why: 'registry look-up blocked by CSP', rx: /^console: Connecting to 'https:\/\/api\.comfy\.org\/[^']*' violates the following Content Security Policy/ },
  // front-end start-up bug (1.49): its app-mode store subscribes to app.rootGraph's events before the graph exists
  // (stack: get rootGraph <- a computed in the front end's own settingStore chunk, no extension's code)
  { why: 'front-end start-up bug', rx: /^console: ComfyApp graph accessed before initialization @ \{"url":"[^"]*\/assets\/settingStore-[^"]*\.js"/ },
];

const unexpected = errors => errors.filter(e => !BENIGN.some(b => b.rx.test(e)));

function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(p)) return p;
  throw new Error('chromium not found: apt-get install chromium (or set CHROMIUM_PATH)');
}

async function launch({ width = 1600, height = 1000 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'foley-ui-profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(), headless: true, viewport: { width, height }, args: CHROMIUM_ARGS,
  });
  const close = async () => {
    try { await ctx.close(); } finally { fs.rmSync(profile, { recursive: true, force: true }); }
  };
  return { ctx, close };
}

// Open the front end in a new page and wait for the graph, the canvas and the pack's nodes; `errors` collects
// console errors and page errors from the start. The page also gets window.__fb (graph_builder.js) and records
// the missing-nodes / missing-models warnings and the prompts queued.
async function openComfy(ctx, baseUrl, readyNode = 'FoleySampler') {
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', m => { if (m.type() === 'error') errors.push(`console: ${m.text()} @ ${JSON.stringify(m.location())}`); });
  page.on('pageerror', e => errors.push(`pageerror: ${e.message}`));
  const templateResponses = [];   // what the template browser fetched from the packs' workflow folders
  page.on('response', r => {
    if (r.url().includes('/api/workflow_templates')) {
      templateResponses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] || '' });
    }
  });
  await page.goto(baseUrl.replace(/\/?$/, '/'), { waitUntil: 'domcontentloaded', timeout: 60000 });
  // app.canvas first: newer front ends log an error when app.graph is read before the app is set up
  await page.waitForFunction(t => window.app && window.app.canvas && window.LiteGraph
    && window.LiteGraph.registered_node_types[t] && window.app.graph, readyNode, { timeout: 90000 });
  await page.waitForTimeout(500);
  const fns = Object.values(builder).map(String).join('\n');
  await page.evaluate(`window.__fb = (() => { ${fns}; return { ${Object.keys(builder).join(', ')} }; })();`);
  await page.evaluate(() => {
    const { app } = window;
    const seen = window.__seen = { missingNodes: [], missingModels: [], queued: [], queueErrors: [], events: [] };
    // the warnings go through these methods of the app where the front end has them (newer front ends report missing
    // models in a side panel instead: seen.hooks says which were watched)
    seen.hooks = { missingNodes: typeof app.showMissingNodesError === 'function',
      missingModels: typeof app.showMissingModelsError === 'function' };
    if (seen.hooks.missingNodes) {
      const nodesWarn = app.showMissingNodesError.bind(app);
      app.showMissingNodesError = (types, ...a) => { seen.missingNodes.push(types.map(t => t.type || t)); return nodesWarn(types, ...a); };
    }
    if (seen.hooks.missingModels) {
      const modelsWarn = app.showMissingModelsError.bind(app);
      app.showMissingModelsError = (models, ...a) => {
        seen.missingModels.push(models.map(m => ({ name: m.name, directory: m.directory, url: m.url })));
        return modelsWarn(models, ...a);
      };
    }
    // newer front ends (1.4x on) keep what a loaded workflow misses in Pinia stores (shown in an error overlay and
    // the right side panel), read here where they exist; seen.stores says which were found
    const pinia = document.querySelector('#vue-app')?.__vue_app__?.config?.globalProperties?.$pinia;
    const store = id => pinia?._s?.get(id) ?? null;
    seen.stores = { missingNodes: !!store('missingNodesError'), missingModels: !!store('missingModel'),
      missingMedia: !!store('missingMedia') };
    // -> what the front end currently reports missing: { nodes: [type], models: [{ name, directory, url }],
    //    media: [name], busy } (busy: still checking the model files with the server)
    window.__foleyMissing = () => {
      const plain = x => JSON.parse(JSON.stringify(x ?? null));
      const nodes = plain(store('missingNodesError')?.missingNodesError)?.nodeTypes ?? [];
      const models = plain(store('missingModel')?.missingModelCandidates) ?? [];
      const media = plain(store('missingMedia')?.missingMediaCandidates) ?? [];
      return {
        nodes: [...new Set([...seen.missingNodes.flat(), ...nodes.map(t => t.type || t)])],
        models: [...seen.missingModels.flat(), ...models.filter(m => m.isMissing !== false)
          .map(m => ({ name: m.name, directory: m.directory, url: m.url }))],
        media: media.filter(m => m.isMissing !== false).map(m => m.name ?? m.widgetValue ?? m),
        busy: !!store('missingModel')?.isRefreshingMissingModels,
      };
    };
    const api = app.api, queue = api.queuePrompt.bind(api);
    api.queuePrompt = async (...a) => {
      try {
        const r = await queue(...a);
        seen.queued.push(r);
        return r;
      } catch (e) {
        seen.queueErrors.push({ message: String(e), response: e.response || null });
        throw e;
      }
    };
    for (const type of ['execution_start', 'execution_success', 'execution_error', 'execution_interrupted', 'executed']) {
      api.addEventListener(type, ev => seen.events.push({ type, data: ev.detail }));
    }
  });
  return { page, errors, templateResponses };
}

// --- the template browser (shared with the other browser scripts) -------------------------------------------------
// 1.32 shows it in a PrimeVue dialog, 1.49 and later in their own dialog: both have role="dialog" and the title
// "Templates"; a card is the outermost element around a template's title that holds no other template's title.

const templateDialog = page => page.locator('[role="dialog"]').filter({ hasText: 'Templates' }).first();

// Open the template browser on the pack's own category (its folder name, under "Extensions") and wait until `names`
// are listed and the images shown are loaded. -> the dialog's locator
async function openTemplateBrowser(page, module, names) {
  await page.evaluate(() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates'));
  const dialog = templateDialog(page);
  await dialog.waitFor({ state: 'visible', timeout: 30000 });
  await dialog.getByText(module, { exact: true }).first().click();
  for (const name of names) await dialog.getByText(name, { exact: true }).first().waitFor({ timeout: 30000 });
  await page.waitForFunction(() => [...document.querySelectorAll('[role="dialog"] img')].every(i => i.complete),
    null, { timeout: 30000 });
  return dialog;
}

// The card of template `name` (among `names`) in the open browser, scrolled to the middle of the view -> its image
// { name, src, loaded, width, height }, or { name, loaded: false } when it shows none within `timeout` ms (a card
// loads its image only while enough of it is in view: 1.58 not for a card whose title alone is).
async function templateCard(page, name, names, timeout = 15000) {
  const findCard = ([n, all]) => {
    const isName = e => e.children.length === 0 && all.includes(e.textContent.trim());
    let el = [...document.querySelectorAll('[role="dialog"] *')].find(e => isName(e) && e.textContent.trim() === n);
    while (el && el.parentElement && [...el.parentElement.querySelectorAll('*')].filter(isName).length === 1) {
      el = el.parentElement;
    }
    return el;
  };
  await templateDialog(page).getByText(name, { exact: true }).first().waitFor({ timeout });
  await page.evaluate(`(${findCard})(${JSON.stringify([name, names])}).scrollIntoView({ block: 'center' })`);
  return page.waitForFunction(`(() => {
    const img = (${findCard})(${JSON.stringify([name, names])})?.querySelector('img');
    return img && img.complete && img.naturalWidth > 0 ? { name: ${JSON.stringify(name)}, src: img.getAttribute('src'),
      loaded: true, width: img.naturalWidth, height: img.naturalHeight } : null;
  })()`, null, { timeout }).then(h => h.jsonValue()).catch(() => ({ name, loaded: false }));
}

// Open a workflow the way a user does: click its card in the template browser; waits until it is the active
// workflow and the browser has closed.
async function openFromTemplateBrowser(page, module, name) {
  const dialog = await openTemplateBrowser(page, module, [name]);
  const loaded = page.waitForFunction(n => (window.app.extensionManager.workflow?.activeWorkflow?.filename ?? '')
    .startsWith(n) && window.app.graph.nodes.length > 0, name, { timeout: 30000 });
  await dialog.getByText(name, { exact: true }).first().click();
  await loaded;
  await dialog.waitFor({ state: 'hidden', timeout: 30000 });
}

// What the front end shows the user on top of the canvas: the text of each visible dialog (1.32's missing-nodes and
// missing-models warnings) and of each visible alert or status box with text (1.49's error overlay), not counting
// polite live regions: progress news such as 1.58's queue banner ("Job queued", "Job completed").
const notices = page => page.evaluate(() => [...document.querySelectorAll(
  '[role="dialog"], [role="alertdialog"], .p-dialog, [role="alert"], [role="status"]')]
  .filter(d => d.getBoundingClientRect().width > 0 && d.innerText.trim() && d.getAttribute('aria-live') !== 'polite')
  .filter((d, i, all) => !all.some((o, j) => j !== i && o.contains(d)))
  .map(d => d.innerText.trim().slice(0, 1000)));

// What the front end reports missing after a workflow was loaded, once it has finished checking the model files
// with the server: { nodes, models, media } (see openComfy).
async function missingReport(page, timeout = 15000) {
  await page.waitForFunction(() => !window.__foleyMissing().busy, null, { timeout });
  return page.evaluate(() => {
    const { busy, ...missing } = window.__foleyMissing();
    return missing;
  });
}

// The Run button of the top bar (1.49 and later put a "Run" menu of queue modes beside it: not that one).
const runButton = page => page.getByRole('button', { name: 'Run', exact: true })
  .and(page.locator(':not([aria-haspopup])'));

// Hide the front end's chrome (menus, side bar, run bar, minimap, toasts) so that only the canvas shows.
async function hideChrome(page, hide = true) {
  await page.evaluate(h => {
    let style = document.getElementById('__foley_hide_chrome');
    if (!style) {
      style = document.createElement('style');
      style.id = '__foley_hide_chrome';
      style.textContent = '.splitter-overlay-root, .p-toast { display: none !important; }';
      document.head.appendChild(style);
    }
    style.disabled = !h;
  }, hide);
}

// Screenshot (PNG buffer) -> JPEG buffer `width` pixels wide, scaled in the page's own canvas.
async function toJpeg(page, png, width, quality = 0.82) {
  const b64 = await page.evaluate(async ({ data, width, quality }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = width;
    c.height = Math.round(img.height * width / img.width);
    const g = c.getContext('2d');
    g.imageSmoothingQuality = 'high';
    g.drawImage(img, 0, 0, c.width, c.height);
    return c.toDataURL('image/jpeg', quality).split(',')[1];
  }, { data: png.toString('base64'), width, quality });
  return Buffer.from(b64, 'base64');
}

// A one-page probe for a pytest test: opens BASE in a fresh browser, waits until the front end has registered
// the pack's nodes, runs `probe(page, results)` and always writes `results` to OUT (a crash is recorded in it).
async function runProbe(base, outPath, size, probe) {
  const results = { errors: [] };
  const { ctx, close } = await launch(size);
  try {
    const page = await ctx.newPage();
    page.on('console', m => { if (m.type() === 'error') results.errors.push(m.text()); });
    page.on('pageerror', e => results.errors.push(`pageerror: ${e.message}`));
    await page.goto(base.replace(/\/?$/, '/'), { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.waitForFunction(() => window.app?.graph && window.LiteGraph?.registered_node_types.FoleySelectBest,
      null, { timeout: 90000 });
    await probe(page, results);
  } catch (e) {
    results.crash = String(e && e.stack || e);
  } finally {
    fs.writeFileSync(outPath, JSON.stringify(results, null, 1));
    await close();
  }
}

module.exports = { runProbe, launch, openComfy, hideChrome, toJpeg, unexpected, BENIGN, CHROMIUM_ARGS, templateDialog,
  openTemplateBrowser, templateCard, openFromTemplateBrowser, notices, missingReport, runButton };

// Builds workflows/<name>.json (UI format, as the front end's Save writes it) and workflows/<name>.jpg (the
// template browser's thumbnail) from the recipes in recipes.js, through the real front end.
//
// Re-generate everything (starts a throw-away ComfyUI with this checkout as a custom node, then runs this):
//     .venv/bin/python tests/ui/build_workflows.py
// This script alone, against a running ComfyUI that has the pack and foley_example.mp4 in its input folder:
//     node tests/ui/build_workflows.js http://127.0.0.1:8188 [name ...]
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { launch, openComfy, hideChrome, toJpeg, unexpected } = require('./lib');
const { RECIPES } = require('./recipes');

const OUT = path.resolve(__dirname, '..', '..', 'workflows');
const THUMB_WIDTH = 480;

// a stable workflow id per name (a fresh uuid on every build would churn the files)
function stableUuid(name) {
  const h = crypto.createHash('sha256').update(`hunyuanvideo-foley/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function tidy(workflow, name) {
  workflow.id = stableUuid(name);
  workflow.revision = 0;
  if (workflow.extra) delete workflow.extra.ds;   // no saved view: the front end fits the graph to the window
  return workflow;
}

async function settle(page) {
  await page.waitForFunction(() => window.__fb.previewsReady(), null, { timeout: 20000 });
  await page.evaluate(() => window.__fb.settleSizes());
}

async function build(page, recipe) {
  const made = await page.evaluate(r => window.__fb.createGraph(r), recipe);
  await settle(page);   // Load Video previews attach and size their nodes
  const problems = await page.evaluate(arg => window.__fb.layoutGraph(arg), { recipe, ids: made.ids });
  if (problems.length) throw new Error(`${recipe.name}: layout problems:\n  ${problems.join('\n  ')}`);
  const first = tidy(await page.evaluate(() => window.app.graph.serialize()), recipe.name);
  // load it back the way the template browser does, then save what the front end makes of it
  await page.evaluate(([wf, name]) => window.app.loadGraphData(wf, true, true, name, { openSource: 'template' }),
    [first, recipe.name]);
  await settle(page);
  const after = await page.evaluate(() => window.__fb.checkLayout());
  if (after.length) throw new Error(`${recipe.name}: layout problems after loading:\n  ${after.join('\n  ')}`);
  const workflow = tidy(await page.evaluate(() => window.app.graph.serialize()), recipe.name);
  fs.writeFileSync(path.join(OUT, `${recipe.name}.json`), `${JSON.stringify(workflow, null, 2)}\n`);

  await hideChrome(page, true);
  // the thumbnail: the canvas (4:3) framed on the recipe's `thumbnail` nodes, or on the whole graph
  const focus = recipe.thumbnail && recipe.thumbnail.map(id => made.ids[id]);
  await page.evaluate(f => window.__fb.fitGraph(30, f), focus || null);
  await page.waitForTimeout(800);
  const png = await page.screenshot();
  await hideChrome(page, false);
  const jpg = await toJpeg(page, png, THUMB_WIDTH);
  fs.writeFileSync(path.join(OUT, `${recipe.name}.jpg`), jpg);
  return { name: recipe.name, nodes: workflow.nodes.length, links: workflow.links.length,
    groups: (workflow.groups || []).length, thumbnail_bytes: jpg.length };
}

(async () => {
  const [base, ...names] = process.argv.slice(2);
  if (!base) throw new Error('usage: node build_workflows.js BASE_URL [name ...]');
  const recipes = names.length ? RECIPES.filter(r => names.includes(r.name)) : RECIPES;
  const { ctx, close } = await launch({ width: 1280, height: 960 });
  try {
    const { page, errors } = await openComfy(ctx, base);
    for (const recipe of recipes) console.log(JSON.stringify(await build(page, recipe)));
    const bad = unexpected(errors);
    if (bad.length) throw new Error(`unexpected console errors:\n${bad.join('\n')}`);
  } finally {
    await close();
  }
})().catch(e => { console.error(e); process.exit(1); });

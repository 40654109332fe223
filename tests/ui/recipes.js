// Compact recipes of the shared workflows in workflows/ (built into UI-format JSON by build_workflows.js).
//
// A recipe: { name, title, note (markdown), nodes: [...], groups: [{ title, color, nodes: [ids] }] }; noteBelow: the
// note under the graph instead of at its left.
// A node:   { id, type, col, widgets: { inputName: value }, in: { inputName: 'srcId' | 'srcId.outputName' },
//             models: [...], size: [w, h] (0 = as created), title }.   `thumbnail`: recipe ids the thumbnail is framed on.
// Widgets are set by input name (never by position), links by input and output name, so a node that gains an
// input keeps working. Nodes are stacked top to bottom per column `col`, in the order listed; columns run left
// to right. A group is drawn around its nodes; nodes of one group must be adjacent in their columns.
'use strict';

const FOLEY_HUB = 'https://huggingface.co/tencent/HunyuanVideo-Foley';
const HY_REPACK = 'https://huggingface.co/Comfy-Org/HunyuanVideo_repackaged/resolve/main/split_files';

// `models` metadata (node.properties.models, the front end's convention): the front end lists an entry whose
// `name` is a widget value of the node and is not found in `directory` in its "missing models" dialog.
const MODELS = {
  mmdit: { name: 'hunyuanvideo_foley.pth', url: `${FOLEY_HUB}/resolve/main/hunyuanvideo_foley.pth`, directory: 'foley' },
  vae: { name: 'vae_128d_48k.pth', url: `${FOLEY_HUB}/resolve/main/vae_128d_48k.pth`, directory: 'foley' },
  synchformer: { name: 'synchformer_state_dict.pth', url: `${FOLEY_HUB}/resolve/main/synchformer_state_dict.pth`,
    directory: 'foley' },
  hunyuan_unet: { name: 'hunyuan_video_t2v_720p_bf16.safetensors',
    url: `${HY_REPACK}/diffusion_models/hunyuan_video_t2v_720p_bf16.safetensors`, directory: 'diffusion_models' },
  clip_l: { name: 'clip_l.safetensors', url: `${HY_REPACK}/text_encoders/clip_l.safetensors`, directory: 'text_encoders' },
  llava: { name: 'llava_llama3_fp8_scaled.safetensors', url: `${HY_REPACK}/text_encoders/llava_llama3_fp8_scaled.safetensors`,
    directory: 'text_encoders' },
  hunyuan_vae: { name: 'hunyuan_video_vae_bf16.safetensors', url: `${HY_REPACK}/vae/hunyuan_video_vae_bf16.safetensors`,
    directory: 'vae' },
};

// Core nodes that ComfyUI 0.33 made taller (CreateVideo gained `bit_depth`, GetVideoComponents two outputs): saved
// at least that tall, so the layout built on an older front end has room for them on every ComfyUI
const SIZE_0_33 = { CreateVideo: 110, GetVideoComponents: 114 };

const EXAMPLE_VIDEO = 'foley_example.mp4';
const EXAMPLE_VIDEO_6S = 'foley_example_6s.mp4';  // the same scene over 6 s: DeSync needs at least 4.8 s
const BALL_PROMPT = 'a rubber ball bouncing on a wooden floor, a hollow knock at every bounce';

// All the Foley model parts; modelsSection and loaders take any of them, in any order.
const FOLEY_PARTS = ['siglip2', 'synchformer', 'clap', 'mmdit', 'vae'];

// Markdown lines naming the model files a workflow needs and where they go.
function modelsSection(parts) {
  const lines = ['### HunyuanVideo-Foley model files', 'Put these into `ComfyUI/models/foley/`:'];
  const foley = {
    mmdit: '`hunyuanvideo_foley.pth` (the MMDiT)',
    vae: '`vae_128d_48k.pth` (the audio VAE)',
    synchformer: '`synchformer_state_dict.pth` (Synchformer)',
  };
  const hub = Object.keys(foley).filter(p => parts.includes(p)).map(p => foley[p]);
  if (hub.length) lines.push(`- ${hub.join(', ')} from [tencent/HunyuanVideo-Foley](${FOLEY_HUB})`);
  if (parts.includes('clap')) {
    lines.push('- the folder `larger_clap_general/` with all files of '
      + '[laion/larger_clap_general](https://huggingface.co/laion/larger_clap_general)');
  }
  if (parts.includes('siglip2')) {
    lines.push('- the folder `siglip2-base-patch16-512/` with all files of '
      + '[google/siglip2-base-patch16-512](https://huggingface.co/google/siglip2-base-patch16-512)');
  }
  lines.push('', 'Nothing is downloaded for you. The `.pth` files are listed with their links when missing; the two '
    + 'folders are not (a folder is not one download).');
  return lines.join('\n');
}

// --- shared pieces ---------------------------------------------------------------------------------------------

const loaders = (col, parts) => [
  parts.includes('siglip2') && { id: 'siglip2', type: 'FoleySigLIP2Loader', col, widgets: { folder: 'siglip2-base-patch16-512' } },
  parts.includes('synchformer') && { id: 'synchformer', type: 'FoleySynchformerLoader', col,
    widgets: { file: MODELS.synchformer.name }, models: [MODELS.synchformer] },
  parts.includes('clap') && { id: 'clap', type: 'FoleyCLAPLoader', col, widgets: { folder: 'larger_clap_general' } },
  parts.includes('mmdit') && { id: 'model', type: 'FoleyModelLoader', col,
    widgets: { file: MODELS.mmdit.name, weight_dtype: 'default' }, models: [MODELS.mmdit] },
  parts.includes('vae') && { id: 'vae', type: 'FoleyVAELoader', col, widgets: { file: MODELS.vae.name },
    models: [MODELS.vae] },
].filter(Boolean);

const loadVideo = (col, file = EXAMPLE_VIDEO) => ({ id: 'video', type: 'LoadVideo', col, widgets: { file } });

// the sound track of `video`: the `audio` output of `components`
const soundTrack = col => ({ id: 'components', type: 'GetVideoComponents', col, in: { video: 'video' },
  size: [0, SIZE_0_33.GetVideoComponents] });

// the sound track as a Foley latent (`encode`)
const soundTrackLatent = col => [
  soundTrack(col),
  { id: 'encode', type: 'FoleyVAEEncode', col, in: { vae: 'vae', audio: 'components.audio' } },
];

// what is on screen (SigLIP2: `visual`) and when things happen (Synchformer: `sync`)
const syncEncode = col => ({ id: 'sync', type: 'FoleySyncEncode', col,
  in: { synchformer: 'synchformer', video: 'video' } });
const videoFeatures = col => [
  { id: 'visual', type: 'FoleyVisualEncode', col, in: { siglip2: 'siglip2', video: 'video' } },
  syncEncode(col),
];

const textEncode = (col, prompt) => ({
  id: 'text', type: 'FoleyTextEncode', col, widgets: { prompt, negative_prompt: 'noisy, harsh' }, in: { clap: 'clap' },
});

const conditioning = (col, widgets) => ({
  id: 'cond', type: 'FoleyConditioning', col, ...(widgets && { widgets }),
  in: { text: 'text', visual: 'visual', sync: 'sync' },
});

// The front of most video-to-Foley graphs: the loaders (column 0), Load Video with the `source` nodes under it (1),
// what, when and the prompt (2), Foley Conditioning (3, with `cond` widgets).
const videoFoleyFront = ({ prompt = BALL_PROMPT, file = EXAMPLE_VIDEO, source = [], cond } = {}) => [
  ...loaders(0, FOLEY_PARTS),
  loadVideo(1, file),
  ...source,
  ...videoFeatures(2),
  textEncode(2, prompt),
  conditioning(3, cond),
];

const sampler = (col, extra = {}) => ({
  id: 'sampler', type: 'FoleySampler', col,
  widgets: { seed: 42, control_after_generate: 'randomize', steps: 50, cfg: 4.5, sampler_name: 'euler',
    scheduler: 'simple', denoise: 1.0, ...extra.widgets },
  in: { model: 'model', positive: 'cond.positive', negative: 'cond.negative', latent: 'cond.latent', ...extra.in },
});

const vaeDecode = col => ({ id: 'decode', type: 'FoleyVAEDecode', col, in: { vae: 'vae', latent: 'sampler' } });

// `audio` into `video` (Foley Mux Video), saved
const muxSave = (col, audio, prefix, saveCol = col) => [
  { id: 'mux', type: 'FoleyMuxVideo', col, widgets: { batch_index: 0, audio_codec: 'aac', video_range: 'whole video' },
    in: { video: 'video', audio } },
  { id: 'save', type: 'SaveVideo', col: saveCol, widgets: { filename_prefix: prefix, format: 'auto', codec: 'auto' },
    in: { video: 'mux' } },
];

// the sampled latent decoded, previewed, muxed into `video` and saved
const decodeMuxSave = (col, prefix, saveCol = col + 1) => [
  vaeDecode(col),
  { id: 'preview', type: 'PreviewAudio', col, in: { audio: 'decode' } },
  ...muxSave(col, 'decode', prefix, saveCol),
];

// ComfyUI's custom-sampling nodes (shift, sampler, scheduler, noise) for SamplerCustomAdvanced
const modelShift = (col, shift, model) => ({ id: 'shift', type: 'ModelSamplingSD3', col, widgets: { shift },
  in: { model } });
const eulerSelect = col => ({ id: 'ksampler', type: 'KSamplerSelect', col, widgets: { sampler_name: 'euler' } });
const simpleScheduler = (col, steps, model) => ({ id: 'scheduler', type: 'BasicScheduler', col,
  widgets: { scheduler: 'simple', steps, denoise: 1.0 }, in: { model } });
const randomNoise = col => ({ id: 'noise', type: 'RandomNoise', col,
  widgets: { noise_seed: 42, control_after_generate: 'randomize' } });
const samplerCustom = (id, col, latent) => ({ id, type: 'SamplerCustomAdvanced', col,
  in: { noise: 'noise', guider: 'guider', sampler: 'ksampler', sigmas: 'scheduler', latent_image: latent } });

const GROUP = { models: 'blue', input: 'green', features: 'cyan', sample: 'purple', output: 'yellow', video: 'brown' };

const modelsGroup = (parts, title = 'Models (models/foley)') => ({ title, color: GROUP.models,
  nodes: loaders(0, parts).map(n => n.id) });
const FEATURES_GROUP = { title: 'What, when, and the prompt', color: GROUP.features,
  nodes: ['visual', 'sync', 'text'] };
const AUDIO_OUT_GROUP = { title: 'Audio out', color: GROUP.output, nodes: ['decode', 'preview', 'mux', 'save'] };
// the groups of a videoFoleyFront graph, around its `video` and `sample` groups ({ title, nodes })
const videoFoleyGroups = (video, sample) => [
  modelsGroup(FOLEY_PARTS),
  { ...video, color: GROUP.input },
  FEATURES_GROUP,
  { ...sample, color: GROUP.sample },
  AUDIO_OUT_GROUP,
];

// The Foley part under a generated VIDEO `video` (the bottom band of the HunyuanVideo workflows).
const foleyUnderVideo = (prompt, prefix) => [
  ...loaders(0, FOLEY_PARTS),
  ...videoFeatures(1),
  { ...textEncode(1, prompt), title: 'Foley Text Encode (sound prompt)' },
  conditioning(2),
  sampler(3),
  ...decodeMuxSave(4, prefix),
];
const FOLEY_UNDER_VIDEO_GROUPS = [
  modelsGroup(FOLEY_PARTS, 'Foley (models/foley)'),
  { title: 'Sound prompt and features', color: GROUP.features, nodes: ['visual', 'sync', 'text'] },
  { title: 'Sample the sound', color: GROUP.sample, nodes: ['cond', 'sampler'] },
  AUDIO_OUT_GROUP,
];
// the generated frames as a VIDEO `video`
const createVideo = col => ({ id: 'video', type: 'CreateVideo', col, widgets: { fps: 24 }, in: { images: 'hydecode' },
  size: [0, SIZE_0_33.CreateVideo] });

// --- the first six workflows -----------------------------------------------------------------------------------

const videoToFoley = {
  name: 'video_to_foley',
  noteBelow: true,
  thumbnail: ['video', 'visual', 'sync', 'text', 'cond', 'sampler'],
  title: 'Video to Foley',
  note: [
    '## Video to Foley',
    'Makes 48 kHz Foley audio for a video with HunyuanVideo-Foley and puts it into the video as its sound track.',
    '',
    '1. **Load Video**: your clip, any length (longer than 10 s runs on overlapping windows; to use a part, set '
      + 'the same `start_time` and `duration` on both encoders). `foley_example.mp4` is a bouncing ball.',
    '2. **Foley Text Encode**: describe the sound.',
    '3. **Run**. Save Video writes the video with the new audio; Preview Audio plays the audio alone.',
    '',
    'SigLIP2 sees *what* is on screen (8 fps), Synchformer *when* things happen (25 fps), CLAP reads the prompt. '
      + '50 steps at cfg 4.5 are the official settings.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  // five columns and the note below: the front end opens it at a zoom where the text is drawn
  nodes: [
    ...videoFoleyFront(),
    sampler(3),
    ...decodeMuxSave(4, 'foley/video_to_foley', 4),
  ],
  groups: videoFoleyGroups({ title: 'Video', nodes: ['video'] },
    { title: 'Sample', nodes: ['cond', 'sampler'] }),
};

const HUNYUAN_PROMPT = 'Close-up of water being poured from a glass jug into a clear drinking glass on a wooden '
  + 'kitchen table, soft morning light, static camera, realistic.';

const hunyuanT2vToFoley = {
  name: 'hunyuanvideo_t2v_to_foley',
  title: 'HunyuanVideo text to video, then Foley',
  note: [
    '## HunyuanVideo text to video, with Foley sound',
    'The top half is ComfyUI\'s HunyuanVideo text-to-video graph (848x480, 73 frames at 24 fps). Its frames become '
      + 'a VIDEO (Create Video) that HunyuanVideo-Foley listens to: the bottom half makes the sound and muxes it in.',
    '',
    '- **Picture prompt**: CLIP Text Encode.',
    '- **Sound prompt**: Foley Text Encode.',
    '',
    '### HunyuanVideo files',
    '- `models/diffusion_models/hunyuan_video_t2v_720p_bf16.safetensors`',
    '- `models/text_encoders/clip_l.safetensors` and `llava_llama3_fp8_scaled.safetensors`',
    '- `models/vae/hunyuan_video_vae_bf16.safetensors`',
    '',
    'from [Comfy-Org/HunyuanVideo_repackaged](https://huggingface.co/Comfy-Org/HunyuanVideo_repackaged) '
      + '(offered for download when missing).',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    { id: 'unet', type: 'UNETLoader', col: 0, widgets: { unet_name: MODELS.hunyuan_unet.name, weight_dtype: 'default' },
      models: [MODELS.hunyuan_unet], size: [360, 0] },
    { id: 'clip', type: 'DualCLIPLoader', col: 0,
      widgets: { clip_name1: MODELS.clip_l.name, clip_name2: MODELS.llava.name, type: 'hunyuan_video', device: 'default' },
      models: [MODELS.clip_l, MODELS.llava] },
    { id: 'hyvae', type: 'VAELoader', col: 0, widgets: { vae_name: MODELS.hunyuan_vae.name }, models: [MODELS.hunyuan_vae] },
    { id: 'picture', type: 'CLIPTextEncode', col: 1, widgets: { text: HUNYUAN_PROMPT }, in: { clip: 'clip' },
      title: 'CLIP Text Encode (picture prompt)' },
    { id: 'guidance', type: 'FluxGuidance', col: 1, widgets: { guidance: 6.0 }, in: { conditioning: 'picture' } },
    { id: 'latent', type: 'EmptyHunyuanLatentVideo', col: 1, widgets: { width: 848, height: 480, length: 73, batch_size: 1 } },
    modelShift(2, 7.0, 'unet'),
    eulerSelect(2),
    simpleScheduler(2, 20, 'shift'),
    randomNoise(2),
    { id: 'guider', type: 'BasicGuider', col: 3, in: { model: 'shift', conditioning: 'guidance' } },
    samplerCustom('hysample', 3, 'latent'),
    { id: 'hydecode', type: 'VAEDecodeTiled', col: 4,
      widgets: { tile_size: 256, overlap: 64, temporal_size: 64, temporal_overlap: 8 },
      in: { samples: 'hysample.output', vae: 'hyvae' } },
    createVideo(4),
    ...foleyUnderVideo('water pouring into a glass, splashing and gurgling, a jug set down on a wooden table',
      'foley/hunyuanvideo_foley'),
  ],
  groups: [
    { title: 'HunyuanVideo models', color: GROUP.models, nodes: ['unet', 'clip', 'hyvae'] },
    { title: 'Picture prompt', color: GROUP.input, nodes: ['picture', 'guidance', 'latent'] },
    { title: 'Sample the video', color: GROUP.video, nodes: ['shift', 'ksampler', 'scheduler', 'noise', 'guider', 'hysample'] },
    { title: 'Frames to VIDEO', color: GROUP.video, nodes: ['hydecode', 'video'] },
    ...FOLEY_UNDER_VIDEO_GROUPS,
  ],
  // two bands: the HunyuanVideo part on top, the Foley part below (nodes of each band start at its top)
  bands: [['unet', 'clip', 'hyvae', 'picture', 'guidance', 'latent', 'shift', 'ksampler', 'scheduler', 'noise',
    'guider', 'hysample', 'hydecode', 'video']],
};

// --- HunyuanVideo 1.5 (as ComfyUI's templates video_hunyuan_video_1.5_720p_t2v / _i2v wire it), then Foley ---------

const HY15_REPACK = 'https://huggingface.co/Comfy-Org/HunyuanVideo_1.5_repackaged/resolve/main/split_files';
const hy15File = (folder, name) => ({ name, url: `${HY15_REPACK}/${folder}/${name}`, directory: folder });
const HY15 = {
  t2v: hy15File('diffusion_models', 'hunyuanvideo1.5_720p_t2v_fp16.safetensors'),
  i2v: hy15File('diffusion_models', 'hunyuanvideo1.5_720p_i2v_fp16.safetensors'),
  qwen: hy15File('text_encoders', 'qwen_2.5_vl_7b_fp8_scaled.safetensors'),
  byt5: hy15File('text_encoders', 'byt5_small_glyphxl_fp16.safetensors'),
  vae: hy15File('vae', 'hunyuanvideo15_vae_fp16.safetensors'),
  clip_vision: { name: 'sigclip_vision_patch14_384.safetensors', directory: 'clip_vision',
    url: 'https://huggingface.co/Comfy-Org/sigclip_vision_384/resolve/main/sigclip_vision_patch14_384.safetensors' },
};
const EXAMPLE_IMAGE = 'foley_example_start.jpg';  // the first frame of foley_example.mp4

// The HunyuanVideo 1.5 graph (720p, 121 frames at 24 fps, 20 steps, cfg 6, shift 7) down to a VIDEO `video`.
// image: the image-to-video variant (start image + SigLIP vision features through HunyuanVideo15ImageToVideo).
function hunyuan15(image) {
  const mode = image ? 'i2v' : 't2v';
  return [
    { id: 'unet', type: 'UNETLoader', col: 0, widgets: { unet_name: HY15[mode].name, weight_dtype: 'default' },
      models: [HY15[mode]], size: [380, 0] },
    { id: 'clip', type: 'DualCLIPLoader', col: 0, models: [HY15.qwen, HY15.byt5],
      widgets: { clip_name1: HY15.qwen.name, clip_name2: HY15.byt5.name, type: 'hunyuan_video_15', device: 'default' } },
    { id: 'hyvae', type: 'VAELoader', col: 0, widgets: { vae_name: HY15.vae.name }, models: [HY15.vae] },
    image && { id: 'clipvision', type: 'CLIPVisionLoader', col: 0, widgets: { clip_name: HY15.clip_vision.name },
      models: [HY15.clip_vision] },
    image && { id: 'image', type: 'LoadImage', col: 1, widgets: { image: EXAMPLE_IMAGE }, title: 'Load Image (start frame)' },
    image && { id: 'seen', type: 'CLIPVisionEncode', col: 1, widgets: { crop: 'center' },
      in: { clip_vision: 'clipvision', image: 'image' } },
    { id: 'picture', type: 'CLIPTextEncode', col: 1, widgets: { text: image ? HY15_I2V_PROMPT : HY15_T2V_PROMPT },
      in: { clip: 'clip' }, title: 'CLIP Text Encode (picture prompt)' },
    { id: 'negative', type: 'CLIPTextEncode', col: 1, widgets: { text: '' }, in: { clip: 'clip' },
      title: 'CLIP Text Encode (negative)' },
    image
      ? { id: 'latent', type: 'HunyuanVideo15ImageToVideo', col: 2,
        widgets: { width: 1280, height: 720, length: 121, batch_size: 1 },
        in: { positive: 'picture', negative: 'negative', vae: 'hyvae', start_image: 'image', clip_vision_output: 'seen' } }
      : { id: 'latent', type: 'EmptyHunyuanVideo15Latent', col: 1,
        widgets: { width: 1280, height: 720, length: 121, batch_size: 1 } },
    modelShift(2, 7.0, 'unet'),
    eulerSelect(2),
    simpleScheduler(2, 20, 'unet'),
    randomNoise(2),
    { id: 'guider', type: 'CFGGuider', col: 3, widgets: { cfg: 6.0 }, in: image
      ? { model: 'shift', positive: 'latent.positive', negative: 'latent.negative' }
      : { model: 'shift', positive: 'picture', negative: 'negative' } },
    samplerCustom('hysample', 3, image ? 'latent.latent' : 'latent'),
    { id: 'hydecode', type: 'VAEDecode', col: 4, in: { samples: 'hysample.output', vae: 'hyvae' } },
    createVideo(4),
  ].filter(Boolean);
}

const HY15_T2V_PROMPT = 'A glass marble rolls down a wooden ramp, drops onto a ceramic plate and spins to a stop, '
  + 'close-up, static camera, soft daylight, realistic.';
const HY15_I2V_PROMPT = 'The ball bounces across the floor, each bounce lower than the last, static camera.';

function hunyuan15Note(image) {
  return [
    `## HunyuanVideo 1.5 ${image ? 'image' : 'text'} to video, with Foley sound`,
    `The top part is ComfyUI's HunyuanVideo 1.5 ${image ? 'image-to-video' : 'text-to-video'} graph (1280x720, `
      + '121 frames at 24 fps, 20 steps). Its frames become a VIDEO (Create Video) that HunyuanVideo-Foley watches: '
      + 'the bottom part makes the sound and muxes it in.',
    '',
    image ? '- **Start frame**: Load Image (`foley_example_start.jpg` is the first frame of the example clip).' : '',
    '- **Picture prompt**: CLIP Text Encode (picture prompt).',
    '- **Sound prompt**: Foley Text Encode (sound prompt).',
    '',
    '### HunyuanVideo 1.5 files',
    `- \`models/diffusion_models/${HY15[image ? 'i2v' : 't2v'].name}\``,
    `- \`models/text_encoders/${HY15.qwen.name}\` and \`${HY15.byt5.name}\``,
    `- \`models/vae/${HY15.vae.name}\``,
    image ? `- \`models/clip_vision/${HY15.clip_vision.name}\`` : '',
    '',
    'from [Comfy-Org/HunyuanVideo_1.5_repackaged](https://huggingface.co/Comfy-Org/HunyuanVideo_1.5_repackaged) '
      + '(offered for download when missing).',
    '',
    modelsSection(FOLEY_PARTS),
  ].filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n');
}

function hunyuan15ToFoley(image) {
  const mode = image ? 'i2v' : 't2v';
  const hv = hunyuan15(image);
  return {
    name: `hunyuanvideo15_${mode}_to_foley`,
    title: `HunyuanVideo 1.5 ${image ? 'image' : 'text'} to video, then Foley`,
    note: hunyuan15Note(image),
    nodes: [
      ...hv,
      ...foleyUnderVideo(image ? BALL_PROMPT
        : 'a glass marble rolling on wood, a bright clink on a ceramic plate, spinning to a stop',
      `foley/hunyuanvideo15_${mode}_foley`),
    ],
    groups: [
      { title: 'HunyuanVideo 1.5 models', color: GROUP.models,
        nodes: ['unet', 'clip', 'hyvae', ...(image ? ['clipvision'] : [])] },
      { title: image ? 'Start frame and picture prompt' : 'Picture prompt', color: GROUP.input,
        nodes: [...(image ? ['image', 'seen'] : []), 'picture', 'negative', ...(image ? [] : ['latent'])] },
      { title: 'Sample the video', color: GROUP.video,
        nodes: [...(image ? ['latent'] : []), 'shift', 'ksampler', 'scheduler', 'noise', 'guider', 'hysample'] },
      { title: 'Frames to VIDEO', color: GROUP.video, nodes: ['hydecode', 'video'] },
      ...FOLEY_UNDER_VIDEO_GROUPS,
    ],
    // two bands: the HunyuanVideo part on top, the Foley part below
    bands: [hv.map(n => n.id)],
    thumbnail: [...hv.map(n => n.id).filter(id => !['unet', 'clip', 'hyvae', 'clipvision'].includes(id)),
      'visual', 'sync', 'text', 'cond', 'sampler'],
  };
}

const hunyuan15T2vToFoley = hunyuan15ToFoley(false);
const hunyuan15I2vToFoley = hunyuan15ToFoley(true);

const textToAudio = {
  name: 'text_to_audio',
  noteBelow: true,
  title: 'Text to audio',
  note: [
    '## Text to audio',
    'HunyuanVideo-Foley without a video: the prompt alone makes `duration` seconds (up to 15) of 48 kHz audio. '
      + 'The video features are replaced by the model\'s learned "no video" features (not an official mode of '
      + 'the model, which was trained for video).',
    '',
    'Set the prompt and the duration in Foley Conditioning, then Run. Save Audio writes a FLAC file.',
    '',
    modelsSection(['mmdit', 'vae', 'clap']),
  ].join('\n'),
  nodes: [
    ...loaders(0, ['clap', 'mmdit', 'vae']),
    textEncode(1, 'heavy rain on a tin roof, distant rolling thunder'),
    { id: 'cond', type: 'FoleyConditioning', col: 1, widgets: { duration: 5.0, batch_size: 1 }, in: { text: 'text' } },
    sampler(2),
    vaeDecode(3),
    { id: 'preview', type: 'PreviewAudio', col: 4, in: { audio: 'decode' } },
    { id: 'save', type: 'SaveAudio', col: 4, widgets: { filename_prefix: 'foley/text_to_audio' }, in: { audio: 'decode' } },
  ],
  groups: [
    modelsGroup(['clap', 'mmdit', 'vae']),
    { title: 'Prompt and length', color: GROUP.features, nodes: ['text', 'cond'] },
    { title: 'Sample', color: GROUP.sample, nodes: ['sampler'] },
    { title: 'Audio out', color: GROUP.output, nodes: ['decode', 'preview', 'save'] },
  ],
};

const stockSamplers = {
  name: 'stock_samplers',
  thumbnail: ['video', 'visual', 'sync', 'text', 'cond', 'shift', 'guider', 'scheduler', 'ksampler', 'noise', 'sampler'],
  title: 'Video to Foley with the stock samplers',
  note: [
    '## Video to Foley through ComfyUI\'s own sampler nodes',
    'The Foley model is a regular ComfyUI MODEL, so the custom-sampling nodes drive it: Model Sampling SD3 sets '
      + 'the flow shift, CFG Guider the guidance, Basic Scheduler the steps, K Sampler Select the sampler.',
    '',
    'With shift 1.0, euler, simple, 50 steps and cfg 4.5 this is the official sampling (what Foley Sampler '
      + 'does). Try other samplers, schedulers or a larger shift from there.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront(),
    modelShift(3, 1.0, 'model'),
    { id: 'guider', type: 'CFGGuider', col: 4, widgets: { cfg: 4.5 },
      in: { model: 'shift', positive: 'cond.positive', negative: 'cond.negative' } },
    simpleScheduler(4, 50, 'shift'),
    eulerSelect(4),
    randomNoise(4),
    samplerCustom('sampler', 5, 'cond.latent'),
    ...decodeMuxSave(6, 'foley/stock_samplers'),
  ],
  groups: videoFoleyGroups({ title: 'Video', nodes: ['video'] },
    { title: 'Stock custom sampling',
      nodes: ['cond', 'shift', 'guider', 'scheduler', 'ksampler', 'noise', 'sampler'] }),
};

const textSteeredFoley = {
  name: 'text_steered_foley',
  thumbnail: ['video', 'sync', 'text', 'cond', 'sampler'],
  title: 'Text-steered Foley (timing from the video)',
  note: [
    '## Text-steered Foley',
    'Only Synchformer looks at the video: it says *when* things happen. Without SigLIP2 the picture does not say '
      + '*what* sounds, so the prompt decides it: the same bounces can become a basketball in a gym, footsteps, '
      + 'or drum hits.',
    '',
    'Set the clip in Load Video and the sound in Foley Text Encode, then Run.',
    '',
    modelsSection(['mmdit', 'vae', 'synchformer', 'clap']),
  ].join('\n'),
  nodes: [
    ...loaders(0, ['synchformer', 'clap', 'mmdit', 'vae']),
    loadVideo(1),
    syncEncode(2),
    textEncode(2, 'a basketball bouncing on a hardwood gym floor, loud echoing bounces'),
    { id: 'cond', type: 'FoleyConditioning', col: 3, in: { text: 'text', sync: 'sync' } },
    sampler(4),
    ...decodeMuxSave(5, 'foley/text_steered'),
  ],
  groups: [
    modelsGroup(['synchformer', 'clap', 'mmdit', 'vae']),
    { title: 'Video', color: GROUP.input, nodes: ['video'] },
    { title: 'When (video) and what (prompt)', color: GROUP.features, nodes: ['sync', 'text'] },
    { title: 'Sample', color: GROUP.sample, nodes: ['cond', 'sampler'] },
    AUDIO_OUT_GROUP,
  ],
};

const audioToAudio = {
  name: 'audio_to_audio_variation',
  thumbnail: ['video', 'components', 'encode', 'visual', 'sync', 'text', 'cond', 'sampler'],
  title: 'Audio to audio variation',
  note: [
    '## Audio-to-audio variation',
    'Starts from the video\'s own sound track instead of noise: Foley VAE Encode turns it into a latent, and '
      + 'Foley Sampler with `denoise` 0.6 re-draws it under the video and the prompt. Lower `denoise` keeps more of '
      + 'the original, 1.0 ignores it.',
    '',
    'The sound track is muxed back into the video in place of the original.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront({ source: soundTrackLatent(1),
      prompt: 'a rubber ball bouncing on a wooden floor in a large empty hall, reverberant knocks' }),
    sampler(4, { widgets: { denoise: 0.6 }, in: { latent: 'encode' } }),
    ...decodeMuxSave(5, 'foley/audio_to_audio'),
  ],
  groups: videoFoleyGroups({ title: 'Video and its sound track', nodes: ['video', 'components', 'encode'] },
    { title: 'Re-draw the audio (denoise 0.6)', nodes: ['cond', 'sampler'] }),
};

// --- any length and editing ------------------------------------------------------------------------------------

const longVideoToFoley = {
  name: 'long_video_to_foley',
  thumbnail: ['video', 'visual', 'sync', 'text', 'cond', 'windowing', 'sampler'],
  title: 'Long video to Foley (any length)',
  note: [
    '## Long video to Foley',
    'The same graph makes Foley audio for a video of **any length**, seconds or minutes. Foley Windowing lets the '
      + 'model run on overlapping windows (here 10 s with 2 s overlap) whose predictions are blended at every '
      + 'sampling step, so one continuous sound track is sampled, not pieces glued together.',
    '',
    '1. **Load Video**: your clip, any length. `foley_example.mp4` (4 s) fits one window, which is sampled exactly '
      + 'as without windows; set `window_seconds` 1.6 and `overlap_seconds` 0.4 to see several.',
    '2. **Foley Text Encode**: describe the sound.',
    '3. **Run**. Save Video writes the video with the new audio.',
    '',
    '**Windows.** The model was trained on clips of about 8-10 s. A clip that fits one window is sampled as by the '
      + 'official pipeline; `window_seconds` 15 reproduces the official single pass for every clip up to 15 s. '
      + 'Without Foley Windowing the model uses 10 s / 2 s as well.',
    '',
    '**A part of the video.** Set the same `start_time` and `duration` (0 = to the end) on both encoders. Foley '
      + 'Mux Video with `video_range` "whole video" places the sound at the part\'s time in the full video '
      + '(silence elsewhere); "audio window only" cuts the video to the part.',
    '',
    '**Limits.** Longer than 15 s is beyond what the model was made for: neighbouring windows agree through their '
      + 'overlap, but nothing links sounds further apart than one window. Time grows with the length (about one '
      + 'model pass per window and step); memory stays that of one window.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront(),
    { id: 'windowing', type: 'FoleyWindowing', col: 4, widgets: { window_seconds: 10.0, overlap_seconds: 2.0 },
      in: { model: 'model' } },
    sampler(4, { in: { model: 'windowing' } }),
    ...decodeMuxSave(5, 'foley/long_video_to_foley'),
  ],
  groups: videoFoleyGroups({ title: 'Video (any length)', nodes: ['video'] },
    { title: 'Sample in overlapping windows', nodes: ['cond', 'windowing', 'sampler'] }),
};

const RANGES = [
  { id: 'a', prompt: 'a rubber ball bounces on a wooden floor', start: 0.0, end: 2.0 },
  { id: 'b', prompt: 'a glass marble clicks on a stone floor', start: 2.0, end: 4.0 },
];
const seconds = r => `${r.start}-${r.end} s`;

const timeRangePrompts = {
  name: 'time_range_prompts',
  thumbnail: ['text_a', 'text_b', 'cond_a', 'cond_b', 'range_a', 'range_b', 'combine', 'sampler'],
  title: 'A prompt per time range',
  note: [
    '## A prompt per time range',
    'One video, two prompts: the first sounds from 0 to 2 s, the second from 2 to 4 s. Each prompt makes its own '
      + 'Foley Conditioning from the same video features; Foley Conditioning Time Range limits it to its range '
      + '(the model sees only that part of the audio and of the video), and Conditioning Combine joins them for '
      + 'Foley Sampler.',
    '',
    '- Set each range\'s `start` and `end` in seconds; `edge_softness` is how far past its range a prompt fades '
      + 'out into its neighbour.',
    '- Add a range: one more Foley Text Encode, Foley Conditioning and Time Range, chained through another '
      + 'Conditioning Combine.',
    '- The negative side (negative prompt, no video) is the same for all ranges: take it from either '
      + 'conditioning.',
    '',
    '**Limits.** The ranges should cover the whole clip, without gaps: time that no range covers gets no '
      + 'guidance from any prompt or from the video. The model was not trained with prompts per range, so a '
      + 'change of sound at a range edge follows the edge, not necessarily an event in the picture.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...loaders(0, FOLEY_PARTS),
    loadVideo(1),
    ...videoFeatures(2),
    ...RANGES.map(r => ({ ...textEncode(2, r.prompt), id: `text_${r.id}`,
      title: `Foley Text Encode (${seconds(r)})` })),
    ...RANGES.map(r => ({ ...conditioning(3), id: `cond_${r.id}`, title: `Foley Conditioning (${seconds(r)})`,
      in: { text: `text_${r.id}`, visual: 'visual', sync: 'sync' } })),
    ...RANGES.map(r => ({ id: `range_${r.id}`, type: 'FoleyConditioningTimeRange', col: 4,
      title: `Time Range ${seconds(r)}`, widgets: { start: r.start, end: r.end, edge_softness: 0.25 },
      in: { conditioning: `cond_${r.id}.positive` } })),
    { id: 'combine', type: 'ConditioningCombine', col: 4,
      in: { conditioning_1: 'range_a', conditioning_2: 'range_b' } },
    sampler(5, { in: { positive: 'combine', negative: 'cond_a.negative', latent: 'cond_a.latent' } }),
    ...decodeMuxSave(6, 'foley/time_range_prompts'),
  ],
  groups: [
    modelsGroup(FOLEY_PARTS),
    { title: 'Video', color: GROUP.input, nodes: ['video'] },
    { title: 'What and when', color: GROUP.features, nodes: ['visual', 'sync'] },
    { title: 'Two prompts', color: GROUP.features, nodes: ['text_a', 'text_b'] },
    { title: 'Each prompt on its time range', color: GROUP.sample,
      nodes: ['cond_a', 'cond_b', 'range_a', 'range_b', 'combine'] },
    { title: 'Sample', color: GROUP.sample, nodes: ['sampler'] },
    AUDIO_OUT_GROUP,
  ],
};

const audioInpainting = {
  name: 'audio_inpainting',
  thumbnail: ['video', 'components', 'encode', 'mask', 'visual', 'sync', 'text', 'cond', 'sampler'],
  title: 'Audio inpainting (re-make a time range)',
  note: [
    '## Audio inpainting',
    'Re-makes one time range of the video\'s own sound track and keeps the rest. Foley VAE Encode turns the track '
      + 'into a latent, Foley Time Mask marks 1.2-2.4 s to be made anew, and Foley Sampler (`denoise` 1.0) '
      + 'generates that range under the video and the prompt, in the context of the sound around it.',
    '',
    '- Set the range in Foley Time Mask (`start`, `end` in seconds; `fade`: seconds inside the range over which '
      + 'the new sound blends in and out).',
    '- The prompt says what the range should sound like; the sound outside it is given.',
    '- Foley Time Mask also works with KSampler and SamplerCustomAdvanced.',
    '',
    '**Limits.** Outside the range the latent is kept exactly, so the decoded audio there is the original track '
      + 'as the VAE reproduces it (encoding and decoding is close to, not exactly, the original), except within '
      + 'about 0.3 s of the range\'s edges: the VAE decoder hears 16 latent frames around each sample. The '
      + 'model was not trained for inpainting, so expect audible edges, most at hard cuts (`fade` 0).',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront({ source: [
      ...soundTrackLatent(1),
      { id: 'mask', type: 'FoleyTimeMask', col: 1, widgets: { start: 1.2, end: 2.4, fade: 0.1 },
        in: { latent: 'encode' } },
    ] }),
    sampler(4, { in: { latent: 'mask' } }),
    ...decodeMuxSave(5, 'foley/audio_inpainting'),
  ],
  groups: videoFoleyGroups({ title: 'Range to re-make', nodes: ['video', 'components', 'encode', 'mask'] },
    { title: 'Inpaint (denoise 1.0)', nodes: ['cond', 'sampler'] }),
};

const audioExtension = {
  name: 'audio_extension',
  thumbnail: ['video', 'components', 'trim', 'visual', 'sync', 'text', 'cond', 'extend', 'sampler'],
  title: 'Audio extension (continue given audio)',
  note: [
    '## Audio extension',
    'Continues given audio over the whole video. Here the given audio is the first 1.5 s of the video\'s own sound '
      + 'track (Trim Audio Duration); use any recording or an earlier result instead. Foley Extend Audio puts it '
      + 'at the start of the empty latent of the whole clip (from Foley Conditioning), and Foley Sampler '
      + '(`denoise` 1.0) generates the rest.',
    '',
    '- The given audio is kept at the start (its latent exactly); the rest is generated in its context and in '
      + 'sync with the video.',
    '- The given audio must be shorter than the clip; it always starts at the clip\'s start.',
    '- Works with any length (the sampler runs on windows past 10 s, see the long video workflow).',
    '',
    '**Limits.** The model was not trained to continue audio: the new part takes up the given sound\'s character '
      + 'only as far as the model hears it in the context, and the seam may be audible. Within about 0.3 s of the '
      + 'seam the decoded given audio can differ slightly from the input (the VAE decoder hears 16 latent frames '
      + 'around each sample).',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront({ source: [
      soundTrack(1),
      { id: 'trim', type: 'TrimAudioDuration', col: 1,
        widgets: { start_index: 0.0, duration: 1.5 }, in: { audio: 'components.audio' } },
    ] }),
    { id: 'extend', type: 'FoleyExtend', col: 4, in: { vae: 'vae', audio: 'trim', latent: 'cond.latent' } },
    sampler(4, { in: { latent: 'extend' } }),
    ...decodeMuxSave(5, 'foley/audio_extension'),
  ],
  groups: videoFoleyGroups({ title: 'Audio to continue', nodes: ['video', 'components', 'trim'] },
    { title: 'Extend (denoise 1.0)', nodes: ['cond', 'extend', 'sampler'] }),
};

const candidatesToBest = {
  name: 'candidates_to_best',
  thumbnail: ['cond', 'sampler', 'decode', 'score', 'select'],
  title: 'Several candidates, scored, the best kept',
  note: [
    '## Candidates, scored, the best kept',
    'Makes 4 candidate sound tracks at once (Foley Conditioning `batch_size` 4), measures each (Foley Score), and '
      + 'keeps the best (Foley Select Best), which goes into the video.',
    '',
    '- **Foley Select Best** shows the video with a spectrogram strip per candidate on its timeline and its '
      + 'scores. Play the video to hear the selected candidate; **click a strip** to hear another. The clicked '
      + 'one is set as `choice` and goes downstream on the next Run (`choice` -1 = the best by the scores).',
    '- The ranking: the lowest DeSync first; the CLAP score breaks ties.',
    '',
    '### What the scores mean',
    '- **DeSync** (lower is better): the seconds by which the Synchformer sync classifier judges audio and video '
      + 'to be apart, 0-2 s in 0.1 s steps. The classifier judges offsets of -2..+2 s in 0.2 s steps on the first '
      + 'and on the last 4.8 s of the clip; the two are averaged. The offset next to it is signed.',
    '- **CLAP** (-1..1, higher is better): how well the audio fits the prompt of Foley Score (the sound prompt). '
      + 'It uses the `larger_clap_general` checkpoint the model already needs, which is **not** the CLAP '
      + 'checkpoint papers use for their CLAP numbers: compare scores with each other, not with published ones.',
    '',
    '**Clips must be at least 4.8 s** (DeSync needs 4.8 s at the start and at the end): '
      + '`foley_example_6s.mp4` is the bouncing ball over 6 s. The scorers (Load Foley Scorers) load the whole '
      + 'Synchformer from the same file as the Synchformer loader, and CLAP from the same folder.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront({ file: EXAMPLE_VIDEO_6S, cond: { batch_size: 4 } }),
    sampler(3),
    vaeDecode(4),
    { id: 'scorer', type: 'FoleyLoadSyncScorer', col: 4,
      widgets: { synchformer: MODELS.synchformer.name, clap: 'larger_clap_general' } },
    { id: 'score', type: 'FoleyScore', col: 4, widgets: { prompt: BALL_PROMPT },
      in: { scorer: 'scorer', audio: 'decode', video: 'video' } },
    { id: 'select', type: 'FoleySelectBest', col: 5, widgets: { choice: -1 }, size: [560, 0],
      in: { audio: 'decode', scores: 'score.scores', video: 'video' } },
    ...muxSave(6, 'select.audio', 'foley/candidates_to_best'),
  ],
  groups: [
    modelsGroup(FOLEY_PARTS),
    { title: 'Video (at least 4.8 s)', color: GROUP.input, nodes: ['video'] },
    FEATURES_GROUP,
    { title: '4 candidates', color: GROUP.sample, nodes: ['cond', 'sampler'] },
    { title: 'Score each (DeSync, CLAP)', color: GROUP.features, nodes: ['decode', 'scorer', 'score'] },
    { title: 'Pick (click a strip to choose)', color: GROUP.output, nodes: ['select'] },
    { title: 'Video out', color: GROUP.output, nodes: ['mux', 'save'] },
  ],
};

// --- a reference sound -----------------------------------------------------------------------------------------

const REFERENCE_SOUND = 'foley_reference_metal.flac';  // footsteps on a metal grating, 3 s (example_media/)

const referenceSoundToFoley = {
  name: 'reference_sound_to_foley',
  thumbnail: ['reference', 'encode', 'cond', 'refpos', 'refneg', 'sampler'],
  title: 'This sound, this video (a reference sound sets the timbre)',
  note: [
    '## This sound, this video',
    'A reference recording says what the result should sound like; the video still says when. Foley VAE Encode '
      + 'turns the recording into a latent and core **ReferenceLatent** adds it to the conditioning. In every '
      + 'window the model hears the reference just before the window\'s own audio (kept exact, noised to each '
      + 'step like an inpainting region, with the learned "no video" features), and that part is dropped from '
      + 'the result, which keeps the clip\'s length.',
    '',
    '1. **Load Audio**: the reference (a few seconds; `foley_reference_metal.flac` is footsteps on a metal '
      + 'grating). Only its first 4 s are used (the log says when it is cut); end it on near-silence.',
    '2. **Load Video** and **Foley Text Encode** as in Video to Foley; describe the sound you want.',
    '3. **Run**.',
    '',
    '- Chain more ReferenceLatent nodes to add more references (joined in order, 4 s in all).',
    '- Here the reference is on both the positive and the negative: shared context, so guidance pushes toward the '
      + 'video and the prompt. On the positive only, guidance also pushes toward the reference.',
    '- Cost: the reference\'s frames are added to every window (4 s on a 10 s window: 700 latent frames '
      + 'instead of 500).',
    '',
    '**Limits.** The model was not trained with a reference: the timbre follows it only as far as the model hears '
      + 'it in context. How far is still to be measured with the real weights.',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...videoFoleyFront({ prompt: 'a ball bouncing on a metal grating, a ringing metallic clank at every bounce',
      source: [
        { id: 'reference', type: 'LoadAudio', col: 1, widgets: { audio: REFERENCE_SOUND } },
        { id: 'encode', type: 'FoleyVAEEncode', col: 1, in: { vae: 'vae', audio: 'reference' } },
      ] }),
    { id: 'refpos', type: 'ReferenceLatent', col: 4, title: 'ReferenceLatent (positive)',
      in: { conditioning: 'cond.positive', latent: 'encode' } },
    { id: 'refneg', type: 'ReferenceLatent', col: 4, title: 'ReferenceLatent (negative)',
      in: { conditioning: 'cond.negative', latent: 'encode' } },
    sampler(5, { in: { positive: 'refpos', negative: 'refneg' } }),
    ...decodeMuxSave(6, 'foley/reference_sound_to_foley'),
  ],
  groups: videoFoleyGroups({ title: 'Video, reference', nodes: ['video', 'reference', 'encode'] },
    { title: 'Reference in every window', nodes: ['cond', 'refpos', 'refneg', 'sampler'] }),
};

// --- two sources, one stereo mix -------------------------------------------------------------------------------

const TWO_SOURCES_VIDEO = 'foley_two_sources.mp4';  // a red ball bouncing left to right, a blue block hopping back

// One source of the two-sources graph (`tag`: red | blue): its mask from the frames' colour channel, the features
// of its masked frames, its prompt, a sampled latent decoded, and stereo that follows its mask.
const sourceNodes = (tag, prompt) => ({
  mask: [
    { id: `channel_${tag}`, type: 'ImageToMask', col: 1, widgets: { channel: tag }, in: { image: 'components.images' } },
    { id: tag, type: 'ThresholdMask', col: 1, widgets: { value: 0.5 }, in: { mask: `channel_${tag}` } },
  ],
  features: [
    { id: `visual_${tag}`, type: 'FoleyVisualEncode', col: 2, in: { siglip2: 'siglip2', video: 'video', mask: tag } },
    { id: `sync_${tag}`, type: 'FoleySyncEncode', col: 2, in: { synchformer: 'synchformer', video: 'video', mask: tag } },
    { ...textEncode(2, prompt), id: `text_${tag}` },
  ],
  sample: [
    { id: `cond_${tag}`, type: 'FoleyConditioning', col: 3,
      in: { text: `text_${tag}`, visual: `visual_${tag}`, sync: `sync_${tag}` } },
    { ...sampler(3, { in: { positive: `cond_${tag}.positive`, negative: `cond_${tag}.negative`,
      latent: `cond_${tag}.latent` } }), id: `sampler_${tag}` },
    { id: `decode_${tag}`, type: 'FoleyVAEDecode', col: 3, in: { vae: 'vae', latent: `sampler_${tag}` } },
  ],
  place: [
    { id: `position_${tag}`, type: 'FoleyPositionFromMask', col: 4, widgets: { smoothing: 0.1 },
      in: { mask: tag, fps: 'components.fps' } },
    { id: `pan_${tag}`, type: 'FoleyPan', col: 4, widgets: { width: 0.8, interaural_delay_ms: 0.0, closeness_db: 0.0 },
      in: { audio: `decode_${tag}`, position: `position_${tag}` } },
  ],
});

const RED = sourceNodes('red', 'a rubber ball bouncing on a wooden shelf, a hollow knock at every bounce');
const BLUE = sourceNodes('blue', 'a heavy wooden block dropped on a wooden floor, a dull thud at every landing');
const ids = nodes => nodes.map(n => n.id);

const twoSourcesStereoMix = {
  name: 'two_sources_stereo_mix',
  thumbnail: ['components', 'red', 'visual_red', 'cond_red', 'position_red', 'pan_red', 'mix'],
  title: 'Two sources, two prompts, one stereo mix',
  note: [
    '## Two sources, two prompts, one stereo mix',
    'A sound per object, placed where the object is: each source gets its own mask, its own prompt and its own '
      + 'Foley pass, then its own place in the stereo picture; the two layers are mixed to a delivery loudness '
      + 'and muxed into the video.',
    '',
    '1. **Masks.** Here from the frames\' colours with core nodes (ImageToMask red / blue -> ThresholdMask), since '
      + 'the example has a red ball and a blue block; for your video use any MASK batch with one mask per frame '
      + '(a segmentation pack, core mask nodes).',
    '2. **Object focus.** Each encoder gets its source\'s mask: outside it the frames are filled with their mean '
      + 'colour before encoding, so the features follow that object.',
    '3. **Foley Position From Mask -> Foley Pan.** The mask\'s centroid (-1 left .. +1 right, smoothed) pans the '
      + 'mono Foley with constant power as the object moves.',
    '4. **Foley Add Layer -> Foley Mix Layers.** Gain and pan per layer, each at its own time; the mix is brought '
      + 'to -23 LUFS (ITU-R BS.1770, EBU R128) under a -1 dBTP true-peak ceiling, turned down as a whole rather '
      + 'than clipped (the `report` output says what was done).',
    '',
    '**Limits.** The model was not trained with masked frames: a mask steers what it sees, it does not guarantee '
      + 'that the other object is not heard. Panning places a mono sound between two speakers (no binaural '
      + 'rendering, no height or depth).',
    '',
    modelsSection(FOLEY_PARTS),
  ].join('\n'),
  nodes: [
    ...loaders(0, FOLEY_PARTS),
    loadVideo(1, TWO_SOURCES_VIDEO),
    soundTrack(1),
    ...RED.mask, ...BLUE.mask,
    ...RED.features, ...BLUE.features,
    ...RED.sample, ...BLUE.sample,
    ...RED.place, ...BLUE.place,
    { id: 'layer_red', type: 'FoleyAddLayer', col: 5, widgets: { batch_index: 0, gain_db: 0.0, pan: 0.0 },
      in: { audio: 'pan_red' } },
    { id: 'layer_blue', type: 'FoleyAddLayer', col: 5, widgets: { batch_index: 0, gain_db: 0.0, pan: 0.0 },
      in: { layers: 'layer_red', audio: 'pan_blue' } },
    { id: 'mix', type: 'FoleyMixLayers', col: 5, widgets: { target_lufs: -23.0, true_peak_db: -1.0 },
      in: { layers: 'layer_blue' } },
    { id: 'preview', type: 'PreviewAudio', col: 6, in: { audio: 'mix.0' } },
    ...muxSave(6, 'mix.0', 'foley/two_sources_stereo_mix'),
  ],
  groups: [
    modelsGroup(FOLEY_PARTS),
    { title: 'Video, masks', color: GROUP.input,
      nodes: ['video', 'components', ...ids(RED.mask), ...ids(BLUE.mask)] },
    { title: 'Red ball (masked)', color: GROUP.features, nodes: ids(RED.features) },
    { title: 'Blue block (masked)', color: GROUP.features, nodes: ids(BLUE.features) },
    { title: 'A Foley pass each', color: GROUP.sample, nodes: [...ids(RED.sample), ...ids(BLUE.sample)] },
    { title: 'Placed by its mask', color: GROUP.video, nodes: [...ids(RED.place), ...ids(BLUE.place)] },
    { title: 'Mix, video out', color: GROUP.output, nodes: ['layer_red', 'layer_blue', 'mix', 'preview', 'mux', 'save'] },
  ],
};

const RECIPES = [videoToFoley, hunyuan15T2vToFoley, hunyuan15I2vToFoley, hunyuanT2vToFoley, textToAudio, stockSamplers, textSteeredFoley, audioToAudio,
  longVideoToFoley, timeRangePrompts, audioInpainting, audioExtension,
  candidatesToBest, referenceSoundToFoley, twoSourcesStereoMix];

module.exports = { RECIPES, MODELS, EXAMPLE_VIDEO, EXAMPLE_VIDEO_6S, EXAMPLE_IMAGE };

// A licence photo checked and made ready in the browser, before anything is uploaded: refused
// when it is too small or too blurred to read (with a reason the driver can act on), and scaled
// down when it is large, so an upload on a weak campus signal stays small.

/**
 * The shorter side a photo needs, in pixels. The server's own floor (`driver.min_image_side`,
 * 300 by default) only stops nonsense; a card that fills a 600-pixel-high photo is about 900
 * pixels wide, where its printed fields are some 20 pixels high (a reviewer and OCR read them)
 * and the back's barcode keeps its narrowest bars about 2 pixels wide. Any phone camera of the
 * last decade takes photos of 1500 pixels or more, so only a screenshot or a photo cropped very
 * tight is refused.
 */
export const MIN_SIDE = 600;

/**
 * The sharpness below which a photo is refused as too blurred (see `sharpness`). Calibrated on
 * the generated licences of the browser tests (tools/src/bin/licence_image.rs) with
 * tests/e2e/calibrate-photo.mjs: cards 800 to 3200 pixels wide, sharp and with a Gaussian blur
 * whose sigma is given per 1400 pixels of card (the same blur relative to the card at every
 * size). Lowest and highest sharpness over the four widths (Chromium 2026-12):
 *
 *   blur sigma per 1400 px   0            1.5         2          3          4        6
 *   front (printed text)     5050-7547    634-1232    310-596    80-155     26-47    5-8
 *   back (barcode)           9724-17331   1784-2580   817-1109   222-266    76-84    15-16
 *
 * Noisy phone-like JPEGs (1400 px card, noise sd 8, quality 90): sharp 5836 (front) and 10689
 * (back); blurred sigma 4: 156 and 124; sigma 6: 188 and 87 (noise is not all taken out).
 *
 * At 200, a sharp card passes with a 25-fold margin and a lightly blurred one (sigma 2, still
 * readable by eye and by the server's barcode reader) with 1.5-fold; sigma 4 and worse, where
 * print smudges and the server misses barcodes, is refused, noisy or not. Sigma 3 is the
 * border: backs pass, fronts do not.
 */
export const MIN_SHARPNESS = 200;

/** Photos larger than this (longest side in pixels, or bytes) are scaled down before upload. */
export const MAX_SIDE = 2400;
export const MAX_BYTES = 2 * 1024 * 1024;
/** JPEG quality of a scaled photo: no visible loss on print and barcode bars. */
const JPEG_QUALITY = 0.9;

/** Sharpness is measured on a copy this size (longest side): relative to the card, not the camera. */
const SHARPNESS_SIDE = 1000;
/** Tile size for sharpness, in pixels of that copy, and the share of the sharpest (and plainest) tiles. */
const TILE = 40;
const SHARE = 0.1;

/**
 * Checks `file` and returns what to upload: `{ ok: true, blob, width, height, scaled, sharpness }`
 * or `{ ok: false, reason }` with a sentence for the driver.
 */
export async function preparePhoto(file) {
  let bitmap;
  try {
    // Applies the photo's EXIF orientation, as the preview and a reviewer see it.
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return { ok: false, reason: "This file is not a photo that can be read. Choose a JPEG or PNG photo of the card." };
  }
  try {
    const { width, height } = bitmap;
    if (Math.min(width, height) < MIN_SIDE) {
      return {
        ok: false,
        reason: `This photo is too small to read (${width} × ${height} pixels; at least ${MIN_SIDE} are needed on the shorter side). Take the photo with the camera, closer to the card.`,
      };
    }
    const score = sharpness(bitmap);
    if (score < MIN_SHARPNESS) {
      return {
        ok: false,
        reason: "This photo is too blurred to read. Hold the phone still, let the camera focus on the card, and take it again in good light.",
      };
    }
    if (Math.max(width, height) <= MAX_SIDE && file.size <= MAX_BYTES) {
      return { ok: true, blob: file, width, height, scaled: false, sharpness: score };
    }
    const ratio = Math.min(1, MAX_SIDE / Math.max(width, height));
    const w = Math.round(width * ratio);
    const h = Math.round(height * ratio);
    const blob = await encodeJpeg(draw(bitmap, w, h));
    // A small but heavy file (a PNG) could come out larger as a JPEG: send whichever is smaller.
    if (blob.size >= file.size) return { ok: true, blob: file, width, height, scaled: false, sharpness: score };
    return { ok: true, blob, width: w, height: h, scaled: true, sharpness: score };
  } finally {
    bitmap.close();
  }
}

/**
 * How sharp the photo's sharpest parts are: on a greyscale copy at most SHARPNESS_SIDE pixels
 * long, the variance of the Laplacian in each TILE × TILE square; the mean over the sharpest
 * tenth of the squares, less the noise floor (the variance of the plainest tenth). The sharpest
 * squares, not the whole photo, so that a plain background or a wide margin does not count as
 * blur: the print and the barcode are where sharpness shows. Less the floor, because sensor
 * noise adds the same variance to every square and would pass a blurred photo as sharp.
 */
export function sharpness(bitmap) {
  const ratio = Math.min(1, SHARPNESS_SIDE / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(3, Math.round(bitmap.width * ratio));
  const h = Math.max(3, Math.round(bitmap.height * ratio));
  const { data } = draw(bitmap, w, h).getContext("2d").getImageData(0, 0, w, h);
  const grey = new Float32Array(w * h);
  for (let i = 0; i < grey.length; i += 1) {
    grey[i] = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
  }
  const across = Math.ceil((w - 2) / TILE);
  const down = Math.ceil((h - 2) / TILE);
  const sums = new Float64Array(across * down);
  const squares = new Float64Array(across * down);
  const counts = new Uint32Array(across * down);
  for (let y = 1; y < h - 1; y += 1) {
    for (let x = 1; x < w - 1; x += 1) {
      const i = y * w + x;
      const laplacian = 4 * grey[i] - grey[i - 1] - grey[i + 1] - grey[i - w] - grey[i + w];
      const tile = Math.floor((y - 1) / TILE) * across + Math.floor((x - 1) / TILE);
      sums[tile] += laplacian;
      squares[tile] += laplacian * laplacian;
      counts[tile] += 1;
    }
  }
  const variances = [];
  for (let t = 0; t < counts.length; t += 1) {
    if (counts[t] < TILE) continue; // a sliver at the edge says little
    const mean = sums[t] / counts[t];
    variances.push(squares[t] / counts[t] - mean * mean);
  }
  variances.sort((a, b) => b - a);
  const tenth = Math.max(1, Math.round(variances.length * SHARE));
  const sharpest = variances.slice(0, tenth);
  const plainest = variances.slice(-tenth);
  const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
  return Math.max(0, mean(sharpest) - mean(plainest));
}

/** A canvas holding `bitmap` drawn at w × h, smoothed (a downscale averages, not samples). */
function draw(bitmap, w, h) {
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, w, h);
  return canvas;
}

function encodeJpeg(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the photo could not be scaled"))), "image/jpeg", JPEG_QUALITY);
  });
}

// Files in messages: image thumbnails (fetched with the token, shown through
// blob: URLs), a lightbox for the full image, download cards for other files.

import { downloadFile, errorText, fileUrl, thumbnail } from './api.js';
import { $, clear, el, fmtSize, icon } from './dom.js';
import { toast } from './notify.js';

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
export const isImage = (f) => f && IMAGE_TYPES.includes(String(f.content_type).toLowerCase());

function typeLabel(f) {
  const ext = String(f.name || '').split('.').pop();
  if (ext && ext.length <= 5 && ext !== f.name) return ext.toUpperCase();
  return String(f.content_type || 'file').split('/').pop().toUpperCase().slice(0, 6);
}

export function fileCard(file) {
  const dl = el('button', { type: 'button', class: 'icon-btn', testid: 'file-download',
    'aria-label': `Download ${file.name}`, title: 'Download' }, icon('download'));
  dl.addEventListener('click', () => {
    dl.disabled = true;
    downloadFile(file).catch((e) => toast({ title: 'Download failed', text: errorText(e), kind: 'error' }))
      .finally(() => { dl.disabled = false; });
  });
  return el('div', { class: 'file-card', testid: 'file-card', dataset: { fileId: file.id } },
    el('span', { class: 'file-icon', 'aria-hidden': 'true' }, icon('file'), el('span', { class: 'file-ext' }, typeLabel(file))),
    el('span', { class: 'file-meta' },
      el('span', { class: 'file-name', title: file.name }, file.name),
      el('span', { class: 'file-size' }, fmtSize(file.size))),
    dl);
}

// An inline image: a placeholder until the thumbnail arrives, then a button that opens the lightbox.
// localUrl (an upload still in flight) shows the picked file at once.
export function imageTile(file, { localUrl, onLoad } = {}) {
  const img = el('img', { alt: file.name || 'image', testid: 'thumbnail', decoding: 'async' });
  const btn = el('button', { type: 'button', class: 'thumb thumb-loading', testid: 'image-tile',
    'aria-label': `Open image ${file.name || ''}`, dataset: { fileId: file.id || '' } }, img);
  img.addEventListener('load', () => {
    btn.classList.remove('thumb-loading');
    if (onLoad) onLoad();
  });
  // the original's size (from the file info) reserves the thumbnail's box before it arrives
  const size = (info) => {
    const k = Math.min(1, 320 / Math.max(info.width, info.height));
    img.width = Math.max(1, Math.round(info.width * k));
    img.height = Math.max(1, Math.round(info.height * k));
    btn.classList.add('thumb-sized');
  };
  if (localUrl) img.src = localUrl;
  else if (file.e2ee) {
    // no thumbnail of an encrypted file: the whole file, decrypted here
    img.addEventListener('load', () => size({ width: img.naturalWidth, height: img.naturalHeight }), { once: true });
    fileUrl(file).then((u) => { img.src = u; }, () => btn.replaceWith(undecryptableFile(file)));
  } else {
    thumbnail(file.id, size).then((t) => { img.src = t.url; }, () => {
      // no thumbnail (not made, or not an image libvips reads): a download card instead
      btn.replaceWith(fileCard(file));
    });
  }
  if (file.id) btn.addEventListener('click', () => openLightbox(file));
  return btn;
}

function undecryptableFile(file) {
  return el('div', { class: 'file-card', testid: 'file-undecryptable', dataset: { fileId: file.id } },
    el('span', { class: 'file-icon', 'aria-hidden': 'true' }, icon('alert')),
    el('span', { class: 'file-meta' }, el('span', { class: 'file-name' }, "This file can't be decrypted on this device.")));
}

export function openLightbox(file) {
  const dlg = $('lightbox');
  const body = $('lightbox-body');
  clear(body);
  $('lightbox-name').textContent = file.name || '';
  $('lightbox-size').textContent = fmtSize(file.size);
  const img = el('img', { alt: file.name || 'image', testid: 'lightbox-image' });
  body.appendChild(el('div', { class: 'lightbox-spinner', 'aria-hidden': 'true' }));
  fileUrl(file).then((u) => {
    img.src = u;
    clear(body).appendChild(img);
  }, (e) => {
    clear(body).appendChild(el('p', { class: 'muted' }, `Cannot load the image: ${errorText(e)}`));
  });
  $('lightbox-download').onclick = () => downloadFile(file).catch((e) =>
    toast({ title: 'Download failed', text: errorText(e), kind: 'error' }));
  if (!dlg.open) dlg.showModal();
}

export function initLightbox() {
  const dlg = $('lightbox');
  $('lightbox-close').addEventListener('click', () => dlg.close());
  dlg.addEventListener('click', (e) => { if (e.target === dlg || e.target === $('lightbox-body')) dlg.close(); });
}

import QRCode from 'qrcode';

/**
 * Level L keeps the symbol as small as possible: an AWG 2.0 config of ~700 bytes still lands
 * around version 17–18, which phone cameras read off a screen easily. The QR is shown on a
 * screen, not printed, so the extra damage tolerance of M/Q buys nothing.
 */
export function renderQrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'L', margin: 2, scale: 6 });
}

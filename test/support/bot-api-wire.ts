// JSON shapes exchanged between bot-api-process.ts (control socket) and bot-api-client.ts.
import type { RecordedCall, RecordedFile, SentMessage } from './bot-api.js';

export interface WireFile {
  name: string;
  /** base64 */
  data: string;
  mimeType?: string;
}

export type WireCall = Omit<RecordedCall, 'files'> & { files: Record<string, WireFile> };
export type WireSentMessage = Omit<SentMessage, 'files'> & { files: Record<string, WireFile> };

export function filesToWire(files: Record<string, RecordedFile>): Record<string, WireFile> {
  const out: Record<string, WireFile> = {};
  for (const [k, f] of Object.entries(files)) {
    out[k] = { name: f.name, data: f.data.toString('base64'), ...(f.mimeType ? { mimeType: f.mimeType } : {}) };
  }
  return out;
}

export function filesFromWire(files: Record<string, WireFile>): Record<string, RecordedFile> {
  const out: Record<string, RecordedFile> = {};
  for (const [k, f] of Object.entries(files)) {
    out[k] = { name: f.name, data: Buffer.from(f.data, 'base64'), ...(f.mimeType ? { mimeType: f.mimeType } : {}) };
  }
  return out;
}

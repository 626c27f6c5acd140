// A small multipart/form-data parser. Node 20's `Response#formData()` (undici) rejects what
// grammY sends (`content-disposition:form-data;name="x"` without spaces, unquoted
// `filename=x.conf`), so the stand-in reads the parts itself.

export interface MultipartFile {
  name: string;
  data: Buffer;
  mimeType?: string;
}

export interface MultipartBody {
  fields: Map<string, string>;
  files: Map<string, MultipartFile>;
}

export function boundaryOf(contentType: string): string | null {
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] ?? '').toLowerCase();
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    if (key.endsWith('*')) {
      // RFC 5987: utf-8''percent-encoded
      const ext = /^[^']*'[^']*'(.*)$/.exec(v);
      try {
        v = decodeURIComponent(ext?.[1] ?? v);
      } catch {
        /* keep raw */
      }
      params.set(key.slice(0, -1), v);
    } else if (!params.has(key)) {
      params.set(key, v);
    }
  }
  return params;
}

export function parseMultipart(body: Buffer, contentType: string): MultipartBody {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new Error('multipart body without boundary');
  const fields = new Map<string, string>();
  const files = new Map<string, MultipartFile>();
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);

  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new Error('multipart body without opening boundary');
  pos += delimiter.length;
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing "--"
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) break;
    pos = lineEnd + 2;
    const end = body.indexOf(nextDelimiter, pos);
    if (end < 0) throw new Error('multipart body is truncated');
    const part = body.subarray(pos, end);
    pos = end + nextDelimiter.length;

    let headerText = '';
    let data: Buffer;
    if (part.subarray(0, 2).toString('latin1') === '\r\n') {
      data = part.subarray(2);
    } else {
      const split = part.indexOf('\r\n\r\n');
      if (split < 0) throw new Error('multipart part without header terminator');
      headerText = part.subarray(0, split).toString('utf8');
      data = part.subarray(split + 4);
    }
    const headers = new Map<string, string>();
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    const params = dispositionParams(disposition.replace(/^[^;]*/, ''));
    const name = params.get('name');
    if (name === undefined) continue;
    const filename = params.get('filename');
    if (filename !== undefined) {
      const mimeType = headers.get('content-type');
      files.set(name, { name: filename, data: Buffer.from(data), ...(mimeType ? { mimeType } : {}) });
    } else {
      fields.set(name, data.toString('utf8'));
    }
  }
  return { fields, files };
}

import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gateOn, type NetnsLab, onPath } from './netns.js';

/** Whether tcpdump is here (under CI=true its absence fails, like every real part's). */
export const tcpdumpGate = (): boolean => gateOn({ ok: onPath('tcpdump'), missing: ['tcpdump'] });

/** The UDP payloads to `port` in a pcap file (Ethernet, IPv4), in order. */
export function udpPayloadsTo(pcap: Buffer, port: number): Buffer[] {
  const le = pcap.readUInt32LE(0) === 0xa1b2c3d4 || pcap.readUInt32LE(0) === 0xa1b23c4d;
  if (!le || pcap.readUInt32LE(20) !== 1) throw new Error('expected a little-endian Ethernet pcap');
  const payloads: Buffer[] = [];
  for (let at = 24; at + 16 <= pcap.length; ) {
    const len = pcap.readUInt32LE(at + 8);
    const frame = pcap.subarray(at + 16, at + 16 + len);
    at += 16 + len;
    if (frame.length < 42 || frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 17) continue;
    const udp = 14 + (frame[14]! & 0x0f) * 4;
    if (frame.readUInt16BE(udp + 2) === port) payloads.push(frame.subarray(udp + 8, udp + frame.readUInt16BE(udp + 4)));
  }
  return payloads;
}

/** Runs `fn` while tcpdump records the UDP traffic to `port` on the lab's server veth; returns its payloads in order. */
export async function capturedToServer(lab: NetnsLab, port: number, fn: () => Promise<void>): Promise<Buffer[]> {
  const file = path.join(lab.tmpDir, `capture-${randomInt(1e9)}.pcap`);
  // -Z root: tcpdump would write as its own user, who cannot enter the lab's 0700 folder.
  // --immediate-mode: otherwise packets wait in the capture ring, and SIGTERM drops them.
  const tcpdump = lab.spawn(lab.serverNs, ['tcpdump', '-i', lab.serverVeth, '-n', '--immediate-mode', '-U', '-Z', 'root', '-w', file, 'udp', 'dst', 'port', String(port)]);
  for (const deadline = Date.now() + 10_000; !tcpdump.output().includes('listening on'); ) {
    if (Date.now() > deadline) throw new Error(`tcpdump did not start:\n${tcpdump.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    await fn();
  } finally {
    await tcpdump.stop();
  }
  return udpPayloadsTo(await fs.readFile(file), port);
}

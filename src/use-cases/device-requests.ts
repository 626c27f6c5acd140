import type { Db } from '../db/index.js';
import { createDeviceRequest, decideDeviceRequest, reopenDeviceRequest } from '../db/device-requests.js';
import { audit } from '../db/audit-log.js';
import { enqueue } from '../db/outbox.js';
import { peersOfUser } from '../db/peers.js';
import type { DeviceRequest, Peer, User } from '../db/schema.js';
import { inTransaction } from '../db/infra/transaction.js';
import { findUser } from '../db/users.js';
import type { Actor } from './access.js';
import { type DeviceResult, type DeviceService, deviceLimitOf } from './devices.js';
import { askAdminsForDevice, deviceRequestDecided, tellUser } from './notify.js';

// REQUIRE_APPROVAL_PER_DEVICE=on: a named device becomes a request that every admin gets with
// Approve / Reject. Each decision is one conditional update, so double taps and several admins
// produce one device; approval goes through the same DeviceService.add as an unrequested add.

export interface DeviceRequestDeps {
  db: Db;
  devices: DeviceService;
  adminIds: readonly number[];
  maxDevicesPerUser: number;
  now: () => number;
}

export type RequestResult = { kind: 'sent'; request: DeviceRequest } | { kind: 'limit'; max: number } | { kind: 'pending' };

/** The request and its copies for the admins, together; refused at the limit (checked again at approval) or while one is open. */
export async function requestDevice(deps: DeviceRequestDeps, user: User, name: string): Promise<RequestResult> {
  const { db, now } = deps;
  const max = deviceLimitOf(user, deps.maxDevicesPerUser);
  if ((await peersOfUser(db, user.id)).length >= max) return { kind: 'limit', max };
  const request = await inTransaction(db, async (trx) => {
    const created = await createDeviceRequest(trx, user.id, name, now());
    if (!created) return undefined;
    await audit(trx, { actorId: user.id, action: 'device_request', userId: user.id, details: { id: created.id, name } }, now());
    await enqueue(trx, askAdminsForDevice(deps.adminIds, created.id), now());
    return created;
  });
  return request ? { kind: 'sent', request } : { kind: 'pending' };
}

export type DecisionResult =
  | { kind: 'ok'; request: DeviceRequest; peer?: Peer }
  /** Decided already (or unknown): the caller shows how it stands. */
  | { kind: 'decided' }
  /** Nothing was created and the request is open again: the admin may raise the limit and approve again, or reject. */
  | { kind: 'not-created'; request: DeviceRequest; user: User | undefined; why: Exclude<DeviceResult, { kind: 'ok' }> };

export async function approveDeviceRequest(deps: DeviceRequestDeps, id: number, by: Actor): Promise<DecisionResult> {
  const { db, now } = deps;
  const request = await decideDeviceRequest(db, id, 'approved', by.id);
  if (!request) return { kind: 'decided' };
  const user = await findUser(db, request.user_id);
  // The user's notice and every admin's copy of the request are queued with the config.
  const told = (peer: Peer) => [
    tellUser(request.user_id, 'device-request-approved', { name: request.name, ip: peer.ip }),
    ...deviceRequestDecided(deps.adminIds, request.id, 'approval-approved-by', by.name),
  ];
  const r = user ? await deps.devices.add(user.id, request.name, deviceLimitOf(user, deps.maxDevicesPerUser), told) : ({ kind: 'not-active' } as const);
  if (r.kind !== 'ok') {
    await reopenDeviceRequest(db, request.id, by.id);
    return { kind: 'not-created', request, user, why: r };
  }
  await audit(db, { actorId: by.id, action: 'device_request_approve', userId: request.user_id, details: { id: request.id, peerId: r.peer.id } }, now());
  return { kind: 'ok', request, peer: r.peer };
}

export async function rejectDeviceRequest(deps: DeviceRequestDeps, id: number, by: Actor): Promise<DecisionResult> {
  const { db, now } = deps;
  const request = await inTransaction(db, async (trx) => {
    const decided = await decideDeviceRequest(trx, id, 'rejected', by.id);
    if (!decided) return undefined;
    await audit(trx, { actorId: by.id, action: 'device_request_reject', userId: decided.user_id, details: { id: decided.id } }, now());
    await enqueue(trx, [tellUser(decided.user_id, 'device-request-rejected', { name: decided.name }), ...deviceRequestDecided(deps.adminIds, decided.id, 'approval-rejected-by', by.name)], now());
    return decided;
  });
  return request ? { kind: 'ok', request } : { kind: 'decided' };
}

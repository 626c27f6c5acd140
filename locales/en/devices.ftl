# Devices (src/bot/features/devices.ts). Prompts are sent as plain text and matched back exactly.
cmd-devices = Your devices

devices-header = 📱 <b>Your devices</b>: { $count } of { $max }
devices-none = You have no devices yet.
device-line =
    🔹 <b>{ $name }</b> — { $ip }
    ↓ { $down } · ↑ { $up } · last seen: { $seen }
device-default-name = Device { $n }
device-btn-add = ➕ Add a device
device-btn-config = 📄 { $name }
device-btn-rename = ✏️ Rename
device-btn-delete = 🗑 Delete
device-btn-delete-yes = 🗑 Yes, delete it
device-btn-back = ‹ Back
device-add-prompt = 📱 Name of the new device (1–32 characters: letters, digits, spaces, - and _). Send it as a reply to this message.
device-rename-prompt = ✏️ New name for device #{ $id } ({ $name }). Send it as a reply to this message.
device-name-invalid = ⚠️ That name cannot be used. A device name is 1–32 characters: letters, digits, spaces, “-” and “_” (no emoji, symbols or line breaks). Nothing was changed; try again.
device-added = ✅ Device <b>{ $name }</b> added ({ $ip }). Its configuration follows.
device-name-taken = ⚠️ You already have a device named <b>{ $name }</b>. Choose another name.
device-limit = You already have { $max } devices, the most allowed. Delete one first (/devices) or ask an admin for more.
device-not-active = Only users with active access can manage devices. /status shows where you stand.
device-not-found = This device does not exist (any more).
device-renamed = ✏️ Renamed to <b>{ $name }</b>.
device-delete-ask = Delete <b>{ $name }</b> ({ $ip })? It stops working at once and its configuration can never be used again.
device-deleted = 🗑 Device <b>{ $name }</b> deleted.
device-add-failed = ⚠️ The device could not be added. Please try again later.
device-config-caption = 📱 Device: <b>{ $name }</b>

# Device requests (REQUIRE_APPROVAL_PER_DEVICE=on).
device-request-sent = 📨 Your request for <b>{ $name }</b> was sent to the admins. You will get its configuration here once it is approved.
device-request-pending = You already have a device request waiting for an admin. Please wait for the decision before asking for another.
device-request-admin =
    📱 <b>New device request</b>
    { $name } ({ $username }, id <code>{ $id }</code>) asks for a device: <b>{ $device }</b>
device-request-approved = ✅ Your device <b>{ $name }</b> was approved ({ $ip }). Its configuration follows.
device-request-rejected = 🚫 Your request for the device <b>{ $name }</b> was rejected.
device-request-decided = Already handled: the request is { $status }.
device-request-status-pending = waiting
device-request-status-approved = approved
device-request-status-rejected = rejected
device-request-not-found = This request does not exist (any more).
device-request-not-created = No device was created.
device-request-limit = ⚠️ { $name } ({ $id }) already has { $max } devices, the most allowed, so <b>{ $device }</b> was not created. Raise their limit on the user card and approve again, or reject the request.
device-request-user-inactive = ⚠️ { $name } ({ $id }) no longer has active access, so <b>{ $device }</b> was not created. You can reject the request.
device-request-failed = ⚠️ The device <b>{ $device }</b> for { $name } ({ $id }) could not be created. Try approving again later.
device-request-delivery-failed = ⚠️ The device <b>{ $device }</b> of { $name } ({ $id }) is created, but its configuration could not be delivered. They can get it from /devices.

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
device-limit = You already have { $max } devices, the most allowed. Delete one first (/devices) or ask an admin for more.
device-not-active = Only users with active access can manage devices. /status shows where you stand.
device-approval-required = Adding a device needs an admin's approval here: please ask an admin.
device-not-found = This device does not exist (any more).
device-renamed = ✏️ Renamed to <b>{ $name }</b>.
device-delete-ask = Delete <b>{ $name }</b> ({ $ip })? It stops working at once and its configuration can never be used again.
device-deleted = 🗑 Device <b>{ $name }</b> deleted.
device-add-failed = ⚠️ The device could not be added. Please try again later.
device-config-caption = 📱 Device: <b>{ $name }</b>

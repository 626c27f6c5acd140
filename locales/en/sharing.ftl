# Shared-config alert (src/use-cases/sharing.ts, rendered in src/outbox/render.ts).
sharing-alert =
    👥 <b>One config on several devices?</b>
    { $name } ({ $username }, id <code>{ $id }</code>), device <b>{ $device }</b> ({ $ip }), switched back and forth between these addresses within { $minutes } min:
    <code>{ $addresses }</code>
sharing-disable-hint = Disable pauses the user's access (all their devices; keys kept, Enable brings it back).
sharing-disabled = ⏸ The bot disabled the user (all their devices; keys kept, Enable in the user's card brings it back).
sharing-user-status = The user is { $status } now.

# Invite links (src/bot/features/invites.ts).
cmd-invite = Create an invite link
cmd-invites = Active invite links

invite-ask-uses = 🎟 <b>New invite link</b>. How many people may join with it?
invite-ask-expiry = 🎟 <b>New invite link</b> for { $uses }. How long is it valid?
invite-uses-1 = 1 person (one-time)
invite-uses-5 = 5 people
invite-uses-25 = 25 people
invite-uses-0 = unlimited
invite-days-1 = 1 day
invite-days-7 = 7 days
invite-days-30 = 30 days
invite-days-0 = no expiry
invite-btn-cancel = Cancel
invite-cancelled = No invite link was created.
invite-created =
    🎟 <b>Invite link <code>{ $id }</code></b>
    For: { $uses } · valid: { $expiry }
    <code>{ $link }</code>
invite-label = 🏷 { $note }
invite-shown-once = ⚠️ This link is shown only once: the bot keeps only a fingerprint of it. Anyone who has it can join without approval; /invites revokes it.
invite-until = until { $time }

invites-none = 🎟 No active invite links. /invite creates one.
invites-header = 🎟 <b>Active invite links</b> — page { $page }/{ $pages }, { $total } in all
invites-line = <code>{ $id }</code> — used { $used }/{ $max } · { $expiry } · by { $admin }
invite-btn-revoke = 🗑 Revoke { $id }
invite-revoked-short = Invite revoked
invite-not-active = This invite was already revoked, has expired or is used up.

invite-accepted = 🎟 Invite link accepted. Pass the quick check below and you are in, without waiting for approval.
invite-invalid = ⚠️ This invite link is no longer valid: it was used up, has expired or was revoked. You can still ask for access: your request goes to the admins as usual.
invite-welcome = 🎉 Welcome! You joined through an invite link. Your configuration follows.
invite-joined = 🎟 { $name } { $username } (<code>{ $id }</code>) joined through invite <code>{ $invite }</code> (created by { $admin }).

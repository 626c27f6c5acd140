# Broadcasts: an admin's message to many users (src/bot/features/admin/broadcast*.ts, src/broadcast/).
cmd-broadcast = Message all users

broadcast-unavailable = Broadcasts are not available right now.
broadcast-prompt =
    📣 Send me the message to broadcast: text, or a photo with a caption. Its formatting is kept exactly.
    I wait for it { $minutes } min.
broadcast-expired = ⌛ The broadcast waited too long for your message. Send /broadcast again.
broadcast-unsupported = Only text or a photo (with a caption) can be broadcast. Send one of those, or tap Cancel.
broadcast-cancelled = Broadcast cancelled.
broadcast-confirm =
    ☝️ This is how the message will look.
    Audience: <b>{ $audience }</b>, { $count } recipients. Users who blocked the bot are skipped.
broadcast-audience-active = active users
broadcast-audience-all = all users except rejected
broadcast-audience-pending = pending requests
broadcast-audience-inactive = active users with no handshake for { $days } days or more (never connected included)
broadcast-audience-quota = active users who have used 80 % of their quota or more this period
broadcast-audience-expiring = active users whose access expires within { $days } days
broadcast-audience-node = active users with a device on node { $node }
broadcast-audience-language = active users whose language is { $language }{ $unstored ->
    [yes] {" "}(users whose language is not known count as this one)
   *[no] {""}
}
broadcast-btn-active = Active
broadcast-btn-all = All
broadcast-btn-pending = Pending
broadcast-btn-inactive = 💤 Inactive (never connected too)
broadcast-btn-quota = 📊 ≥ 80 % of quota
broadcast-btn-expiring = ⏳ Expiring
broadcast-btn-node = 🖥 On a node
broadcast-btn-language = 🌐 By language
broadcast-btn-days = { $days } days
broadcast-unknown-node = Node { $node } is not in the fleet any more. Nothing changed.
broadcast-btn-send = 📣 Send to { $count }
broadcast-btn-cancel = Cancel
broadcast-btn-stop = ⏹ Stop
broadcast-nobody = Nobody to send to in this audience.
broadcast-not-draft = This broadcast was already sent or cancelled.
broadcast-not-sending = This broadcast is not being sent any more.
broadcast-started-short = Sending…
broadcast-stopping-short = Stopping…
broadcast-progress = 📣 Broadcast #{ $id }: { $done }/{ $total } · delivered { $sent } · failed { $failed } · blocked { $blocked }
broadcast-progress-final = 📣 Broadcast #{ $id } is over: delivered { $sent }, failed { $failed }, blocked { $blocked }, not sent { $cancelled }.
broadcast-report =
    ✅ <b>Broadcast #{ $id } finished</b>
    Delivered: { $sent } of { $total }
    Failed: { $failed }
    Bot blocked by the user: { $blocked } (later broadcasts skip them)
broadcast-report-cancelled =
    ⏹ <b>Broadcast #{ $id } stopped</b>
    Delivered: { $sent } of { $total }
    Failed: { $failed }
    Bot blocked by the user: { $blocked } (later broadcasts skip them)
    Not sent: { $cancelled }
broadcast-report-unknown = Unknown, not retried: { $unknown }. A restart interrupted these sends; they may or may not have arrived, and are not sent again so that nobody gets the message twice.

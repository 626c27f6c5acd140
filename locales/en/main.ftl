welcome = 👋 Hi! This bot gives access to a private VPN. First, a quick check that you are a human.
captcha-question =
    🧮 How much is <b>{ $a } + { $b }</b>? Tap the right answer.
    Attempts left: { $attempts }.
captcha-wrong = ❌ Wrong answer.
captcha-cooldown = ⏳ Too many wrong answers. Try /start again in { $minutes } min.
captcha-cooldown-short = Too many wrong answers, please wait.
queue-full = ⏳ Too many requests are waiting for the admins right now. Please try /start again later.
captcha-stale = This question is no longer valid. Send /start for a new one.
captcha-expired = ⌛ The question expired. Send /start for a new one.
captcha-passed = ✅ Check passed.
captcha-passed-short = Correct!
request-sent = 📨 Your request has been sent to the admins. You will get a message here as soon as they decide.

status-pending = ⏳ Your request is waiting for an admin's approval.
status-provisioning = ⚙️ Your request was approved; your configuration is being prepared.
status-active = ✅ Your access is active. /config sends your configuration again.
status-disabled = ⏸ Your access is suspended by an admin.
status-rejected = 🚫 Your request was rejected.
status-revoked = Your access was revoked. Send /start to ask again.
status-banned = 🚫 An admin has blocked your access to this VPN.
status-unknown = You have no access yet. Send /start to ask for it.
status-peer =
    🔹 <b>{ $ip }</b>
    ↓ { $down } · ↑ { $up }
    Last handshake: { $handshake }
never = never

config-none = You have no active configuration. Ask an admin.
config-caption = Your VPN configuration ({ $ip }). Keep this file private.
config-qr-caption-awg = QR code of the same configuration: scan it in the AmneziaWG app.
config-qr-caption-wg = QR code of the same configuration: scan it in the WireGuard app.
config-howto-awg =
    <b>How to connect</b>
    • <b>AmneziaVPN</b> (Android, iOS, Windows, macOS, Linux): “+” → “File with connection settings” → choose the .conf file above.
    • <b>AmneziaWG</b> (Android, iOS): “+” → import from file, or scan the QR code.
    The plain WireGuard app will not work: this server uses AmneziaWG obfuscation.
config-howto-wg =
    <b>How to connect</b>
    Install <b>WireGuard</b> (wireguard.com/install) or AmneziaVPN, then import the .conf file above or scan the QR code.

help =
    <b>Commands</b>
    /start – ask for access or see your status
    /status – status, traffic, last connection
    /usage – your traffic: a chart and this period
    /config – get your configuration again
    /devices – your devices: add, rename, delete
    /language – English or Russian
    /help – this text
help-admin =
    <b>Admin commands</b>
    /admin – pending requests and users
    /invite – an invite link that skips the approval
    /invites – active invite links
    /backup – a copy of the database
    /broadcast – a message to all users
    /status, /config – as for every user

backup-caption = 💾 Database backup. It holds every key in clear: keep it private. Restore: see the README.
backup-caption-clear-warning = 💾 Database backup.
    ⚠️ It holds every key in clear: the server's private key and every client's private and preshared key. Whoever has this file can pose as the server or as any client. Set <code>SECRETS_KEY</code> (<code>openssl rand -base64 32</code>) and restart the bot: the keys are then stored encrypted, in the database and in its backups. Restore: see the README.
backup-caption-encrypted = 💾 Database backup. The private and preshared keys in it are encrypted with <code>SECRETS_KEY</code>: keep that key apart from this file, a restore needs it. Restore: see the README.
backup-postgres = 💾 The database is PostgreSQL: the bot does not make backups of it. Back it up with <code>pg_dump</code> (see the README).
not-admin = ⛔ This is for admins only.

btn-pending = 📥 Pending requests ({ $count })
btn-users = 👥 Users
btn-back = « Back
btn-approve = ✅ Approve
btn-reject = 🚫 Reject
btn-disable = ⏸ Disable
btn-enable = ▶️ Enable
btn-revoke = 🗑 Revoke
btn-revoke-yes = 🗑 Yes, revoke
btn-cancel = Cancel
pending-none = No pending requests.
users-header = 👥 <b>Users</b> — page { $page }/{ $pages }, { $total } in all
users-line = <b>{ $name }</b> { $username } (<code>{ $id }</code>) — { $status }, { $traffic }, seen { $seen }

label-pending = pending
label-provisioning = being set up
label-active = active
label-disabled = disabled
label-rejected = rejected
label-revoked = revoked
label-banned = blocked by an admin

card =
    👤 <b>{ $name }</b> { $username }
    ID: <code>{ $id }</code>
    Status: { $status }
    Since: { $since }
card-blocked = 🚫 Blocked the bot on { $since }
card-peer = 🔹 <code>{ $ip }</code> ({ $state }) ↓ { $down } ↑ { $up }, handshake: { $handshake }
user-not-found = User not found.
revoke-confirm = Revoke access of <b>{ $name }</b> { $username } (<code>{ $id }</code>)? Their keys are deleted; they can ask again.

approval-request =
    🆕 <b>Access request</b>
    Name: { $name }
    Username: { $username }
    ID: <code>{ $id }</code>
approval-approved-by = ✅ Approved by { $admin }
approval-rejected-by = 🚫 Rejected by { $admin }
approved-short = Approved
rejected-short = Rejected
disabled-short = Disabled
enabled-short = Enabled
revoked-short = Revoked
already-decided = Already handled: the user is { $status }.
approve-failed-short = Could not create the VPN peer. Nothing was changed.
error-pool-exhausted = ⚠️ No free addresses are left in the VPN subnet. Nothing was changed; free some (revoke users) or enlarge VPN_SUBNET.
error-vpn = ⚠️ The VPN server refused the change, nothing was changed, and the user was not told. You can retry.
    <code>{ $error }</code>
applied-later = ⚠️ Saved, but the VPN interface could not be updated yet; it will be retried automatically.
    <code>{ $error }</code>
delivery-failed = ⚠️ { $name } ({ $id }) is approved, but the configuration could not be delivered. They can get it with /config.

you-are-approved = 🎉 Your request was approved! Your configuration follows.
you-are-rejected = 🚫 Sorry, your request was rejected.
you-are-disabled = ⏸ Your VPN access was suspended by an admin.
you-are-enabled = ▶️ Your VPN access is active again. Your configuration is unchanged.
you-are-revoked = Your VPN access was revoked. Send /start to ask again.

monitor-interface-down = ⚠️ The VPN interface <code>{ $iface }</code> is gone. Bringing it back with every peer…
monitor-interface-restored = ✅ The VPN interface <code>{ $iface }</code> is back up with its peers.

rate-limited = Too many requests. Please wait a few seconds.

monitor-unknown-peers =
    ⚠️ Peers on <code>{ $iface }</code> that the bot does not know (left in place; RECONCILE_REMOVE_UNKNOWN=on removes them):
    <code>{ $keys }</code>

button-outdated = This button is no longer active.
unknown-message = I did not understand that. /help lists what I can do.
error-generic = ⚠️ Something went wrong. Please try again later.

cmd-start = Start / your status
cmd-status = Status and traffic
cmd-config = Get your configuration
cmd-help = Help
cmd-admin = Admin menu
cmd-backup = Database backup
cmd-nodes = VPN nodes

overview =
    🛠 <b>Overview</b>
    Users: ✅ { $active } active · ⏳ { $pending } pending · ⏸ { $disabled } disabled · 🚫 { $banned } blocked
    Blocked the bot: { $unreachable }
    Online now: { $online }
    Traffic today: { $today } · this month: { $month } · all time: { $all }
node-ok = ✅ { $node } (<code>{ $iface }</code>): up, { $live } peers, as in the database
node-diverged = ⚠️ { $node } (<code>{ $iface }</code>): up, { $live } peers on the interface but { $wanted } in the database
node-down = ❌ { $node } (<code>{ $iface }</code>): interface down
node-error = ⚠️ { $node } (<code>{ $iface }</code>): cannot be read: <code>{ $error }</code>
btn-top = 🏆 Top this month
btn-search = 🔍 Search
btn-refresh = 🔄 Refresh
sort-new = 🆕 New
sort-traffic = 📊 Traffic
sort-seen = 👀 Last seen
top-header = 🏆 <b>Top users this month</b>
top-line = { $n }. <b>{ $name }</b> { $username } — { $total } (↓ { $down } · ↑ { $up })
top-none = No traffic this month yet.
search-prompt = 🔍 Send an id, @username or part of a name as a reply to this message.
search-results = 🔍 Results for “{ $query }”:
search-none = 🔍 Nobody matches “{ $query }”.
btn-ban = 🚫 Block
btn-ban-yes = 🚫 Yes, block
btn-unban = ✅ Unblock
ban-confirm = Block <b>{ $name }</b> { $username } (<code>{ $id }</code>)? Their keys are deleted and they cannot ask again until unblocked.
banned-short = Blocked
unbanned-short = Unblocked
you-are-banned = 🚫 An admin has blocked your access to this VPN.
you-are-unbanned = An admin has unblocked you. Send /start to ask for access again.
btn-chart = 📈 Traffic chart
chart-title = Traffic of { $name }, last { $days } days
chart-upload = Upload
chart-download = Download
chart-no-data = No traffic in these days
chart-caption = 📈 { $name } { $username } — traffic per day (UTC)
monitor-failing = ⚠️ The monitor has failed { $ticks } times in a row on <code>{ $iface }</code>; traffic is not being counted.
    <code>{ $error }</code>
monitor-recovered = ✅ The monitor on <code>{ $iface }</code> works again.
monitor-database-down = ⚠️ The database cannot be reached: requests, approvals and traffic counting fail until it is back.
    <code>{ $error }</code>
monitor-database-restored = ✅ The database can be reached again.
alert-provisioning-failed = ⚠️ Creating VPN peers fails: approvals are rolled back until this is fixed.
    <code>{ $error }</code>
alert-provisioning-recovered = ✅ Creating VPN peers works again.
alert-pending-full = ⚠️ { $max } requests are waiting (MAX_PENDING): newcomers are asked to come back later. Review the pending ones in /admin.
language-name = 🇬🇧 English
language-choose = Choose your language:
language-set = ✅ The bot now speaks English with you.
cmd-language = Language
config-amnezia-key = 🔑 <b>AmneziaVPN key</b> (tap to copy, then in AmneziaVPN: “+” → “Insert key”):
status-limited = ⛔ You have used this period's traffic quota. Access comes back when the next period starts or an admin raises the quota.
status-expired = ⌛ Your access has expired. Ask an admin to extend it.
label-limited = over quota
label-expired = expired
you-are-limited = ⛔ You have used this period's whole traffic quota, so your VPN is paused until the next period (or until an admin raises it).
you-are-expired = ⌛ Your VPN access has expired. Ask an admin to extend it.
quota-warning = ⚠️ You have used { $percent }% of your monthly traffic quota.
expiry-warning-3 = ⏳ Your VPN access expires in 3 days.
expiry-warning-1 = ⏳ Your VPN access expires in less than a day.
limit-lifted = ✅ Your VPN access works again. Your configuration is unchanged.
admin-user-limited = ⛔ { $name } (<code>{ $id }</code>) reached their traffic quota; their VPN is paused.
admin-user-expired = ⌛ { $name } (<code>{ $id }</code>) expired; their VPN is paused.
card-limits = Quota: { $used } of { $quota }{ $topup } this period · Expires: { $expires } · Devices: up to { $devices }
unlimited = unlimited
no-expiry = never
btn-limits = 📦 Quota & expiry
btn-lift = ✅ Lift the limit
btn-extend = +{ $days } d
btn-no-expiry = No expiry
btn-reset-usage = ♻️ Reset this period's usage
limits-menu = Choose a quota per period, extend the access, or reset the usage:
limits-saved = Saved
btn-max-devices = 📱 { $n }
btn-max-devices-default = 📱 default

# Pending requests: the digest (one live summary per admin in a burst), the review, approve all.
approval-approved = ✅ Approved
digest =
    🆕 <b>{ $count } pending requests</b>
    Newest: { $names }
digest-more = and { $more } more
digest-done = ✅ No pending requests: every one is decided.
btn-review = 🔎 Review
btn-approve-all = ✅ Approve all { $count }
btn-skip = ⏭ Skip
btn-review-again = 🔁 From the start
review-request =
    🆕 <b>Request { $pos } of { $total }</b> (oldest first)
    Name: { $name }
    Username: { $username }
    ID: <code>{ $id }</code>
    Asked: { $asked }
review-end = ✅ No more requests after this one. Still pending: { $count }.
approve-all-confirm = Approve all { $count } pending requests, up to the newest you saw? Each user gets a peer and their configuration.
btn-approve-all-yes = ✅ Approve { $count }
approve-all-cancelled = Nothing was approved.
approve-all-started = Approving…
approve-all-done = ✅ Approved { $approved }. Still pending: { $left }.
approve-all-failed = ⚠️ Approved { $approved }, then creating a peer failed; the rest are still pending ({ $left }). See the alert for the cause.
outbox-unknown =
    ⚠️ The bot stopped while sending { $count } messages. Telegram may or may not have delivered them, so they are not sent again:
    { $list }
    A user who lacks their configuration can get it with /config.
config-coming = 📦 Your configuration is on its way.

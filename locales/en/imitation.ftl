imitation-off = Off
imitation-dns = DNS
imitation-quic = QUIC
imitation-custom = Custom
imitation-line = 🎭 Imitation: <b>{ $preset }</b> { $detail }
imitation-title = 🎭 <b>Imitation packets</b>
imitation-since = Since { $since }.
imitation-about =
    Before every handshake the AmneziaWG client sends a packet that looks like another protocol, so a carrier that drops unknown UDP lets the tunnel through.
    • <b>DNS</b>: a DNS query for a popular site
    • <b>QUIC</b>: the first packet of an HTTP/3 connection
    • <b>Off</b>: none (the junk packets and headers still hide the tunnel)
    The values are drawn for this server only. Old configs keep working after a switch; only the new ones carry the new packet.
imitation-overridden = Set by AWG_I1…AWG_I5 in the bot's environment: remove them to choose a preset here.
btn-imitation = 🎭 Imitation
btn-imitation-resend = 📤 Send fresh configs to { $users } users
imitation-switched = ✅ Switched to { $preset }: every config sent from now on carries it. Users keep their old configs until they get a new one.
imitation-unchanged = That preset is already in use.
imitation-unavailable = Imitation packets need VPN_FLAVOR=amneziawg and AWG_PROTOCOL=2.
imitation-resend-queued = 📤 Fresh configs for { $users } users ({ $devices } devices) are queued. They go out at broadcast pace, after every other message, and continue after a restart.
imitation-resend-pending = 📤 { $messages } messages of the re-send are still on their way.
imitation-resend-stale = Those configs were already re-sent, or the preset changed since: open the menu again.
imitation-resend-note = 🔄 Your VPN setup was updated to get through blocking better. Your new config follows: import it again (the old one keeps working for now).

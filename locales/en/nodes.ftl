nodes-title = 🌍 <b>VPN nodes</b>
node-row =
    <b>{ $node }</b> · { $location } · { $health }
    { $host } · <code>{ $iface }</code> · { $subnet } · { $peers } active peers · { $state }
node-state-active = takes new peers
node-state-draining = ⏸ draining (keeps its peers, takes no new ones)
node-health-up = ✅ up
node-health-down = ❌ not answering since { $since }
btn-node-drain = ⏸ Drain { $node }
btn-node-resume = ▶️ Resume { $node }
btn-node-remove = 🗑 Remove { $node }
nodes-add-hint = Add a node: <code>/nodes add name=ams ssh=root@203.0.113.5 hostkey=SHA256:… endpoint=203.0.113.5 subnet=10.9.0.0/24 location="Amsterdam"</code> (optional: port, iface, flavor, key, dir). The bot's SSH key must be in the node's authorized_keys; the host key fingerprint comes from <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> on the node.
nodes-usage = Use <code>/nodes</code> to list the nodes, or <code>/nodes add name=… ssh=… hostkey=… endpoint=… subnet=…</code> to add one.
node-add-invalid =
    Nothing added:
    { $problems }
node-adding = Connecting to { $node } and bringing its interface up…
node-added = ✅ Node { $node } is up and takes new peers.
node-add-failed =
    ❌ Node { $node } was not added:
    <code>{ $error }</code>
node-unknown = That node no longer exists.
node-unavailable = { $node } does not take new peers now (down, draining or removed).
node-drained = { $node } drains: no new peers go there.
node-resumed = { $node } takes new peers again.
node-removed = { $node } removed.
node-not-empty = { $node } still has peers: move its users first.
btn-move = 🌍 Move to another node
move-choose = Move { $name } to which node? The user gets new configs; the old ones stop working.
moved-short = Moved
moved = ✅ { $name } moved to { $node }; the new configs are on their way.
move-failed =
    ❌ The move failed:
    <code>{ $error }</code>
you-are-moved = 🌍 Your VPN moved to another server. Import the new configuration below; the old one no longer works.
choose-location = 🌍 Where should your VPN connect? You can skip this: the least busy server is used.
location-chosen = 🌍 Location: { $location }.

# Per-user speed limits (src/bot/features/admin/speed.ts).
card-speed = Speed: { $speed }
card-speed-default = Speed: { $speed } (default)
speed-value = ↓ { $down } / ↑ { $up } Mbit/s
speed-unlimited = unlimited
btn-speed = 🚦 Speed
speed-menu = Choose the user's speed limit (both ways), applied at once on every node with their devices:
btn-speed-mbit = { $n } Mbit/s
btn-speed-default = Default
btn-speed-unlimited = ∞ Unlimited

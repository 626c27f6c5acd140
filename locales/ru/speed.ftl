# Ограничение скорости пользователя (src/bot/features/admin/speed.ts).
card-speed = Скорость: { $speed }
card-speed-default = Скорость: { $speed } (по умолчанию)
speed-value = ↓ { $down } / ↑ { $up } Мбит/с
speed-unlimited = без ограничения
btn-speed = 🚦 Скорость
speed-menu = Выберите ограничение скорости (в обе стороны); оно сразу применяется на всех узлах с устройствами пользователя:
btn-speed-mbit = { $n } Мбит/с
btn-speed-default = По умолчанию
btn-speed-unlimited = ∞ Без ограничения

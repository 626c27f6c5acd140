# Устройства (src/bot/features/devices.ts). Подсказки отправляются простым текстом и сверяются дословно.
cmd-devices = Ваши устройства

devices-header = 📱 <b>Ваши устройства</b>: { $count } из { $max }
devices-none = У вас пока нет устройств.
device-line =
    🔹 <b>{ $name }</b> — { $ip }
    ↓ { $down } · ↑ { $up } · был в сети: { $seen }
device-default-name = Устройство { $n }
device-btn-add = ➕ Добавить устройство
device-btn-config = 📄 { $name }
device-btn-rename = ✏️ Переименовать
device-btn-delete = 🗑 Удалить
device-btn-delete-yes = 🗑 Да, удалить
device-btn-back = ‹ Назад
device-add-prompt = 📱 Название нового устройства (1–32 символа: буквы, цифры, пробелы, - и _). Отправьте его ответом на это сообщение.
device-rename-prompt = ✏️ Новое название для устройства #{ $id } ({ $name }). Отправьте его ответом на это сообщение.
device-name-invalid = ⚠️ Такое название не подходит. Название устройства — 1–32 символа: буквы, цифры, пробелы, «-» и «_» (без эмодзи, других символов и переносов строк). Ничего не изменено; попробуйте ещё раз.
device-added = ✅ Устройство <b>{ $name }</b> добавлено ({ $ip }). Конфигурация — ниже.
device-name-taken = ⚠️ Устройство с названием <b>{ $name }</b> у вас уже есть. Выберите другое название.
device-limit = У вас уже { $max } устройств(а) — это максимум. Сначала удалите одно (/devices) или попросите администратора увеличить лимит.
device-not-active = Управлять устройствами могут только пользователи с активным доступом. /status покажет ваш статус.
device-not-found = Такого устройства нет (больше нет).
device-renamed = ✏️ Новое название: <b>{ $name }</b>.
device-delete-ask = Удалить <b>{ $name }</b> ({ $ip })? Оно сразу перестанет работать, а его конфигурацию нельзя будет использовать снова.
device-deleted = 🗑 Устройство <b>{ $name }</b> удалено.
device-add-failed = ⚠️ Не удалось добавить устройство. Попробуйте позже.
device-config-caption = 📱 Устройство: <b>{ $name }</b>

# Запросы устройств (REQUIRE_APPROVAL_PER_DEVICE=on).
device-request-sent = 📨 Запрос на <b>{ $name }</b> отправлен администраторам. Конфигурация придёт сюда после одобрения.
device-request-pending = У вас уже есть запрос устройства, ожидающий администратора. Дождитесь решения, прежде чем просить ещё одно.
device-request-admin =
    📱 <b>Запрос нового устройства</b>
    { $name } ({ $username }, id <code>{ $id }</code>) просит устройство: <b>{ $device }</b>
device-request-approved = ✅ Устройство <b>{ $name }</b> одобрено ({ $ip }). Конфигурация — ниже.
device-request-rejected = 🚫 Запрос на устройство <b>{ $name }</b> отклонён.
device-request-decided = Уже решено: запрос { $status }.
device-request-status-pending = ожидает решения
device-request-status-approved = одобрен
device-request-status-rejected = отклонён
device-request-not-found = Такого запроса нет (больше нет).
device-request-not-created = Устройство не создано.
device-request-limit = ⚠️ У пользователя { $name } ({ $id }) уже { $max } устройств(а) — это максимум, поэтому <b>{ $device }</b> не создано. Увеличьте лимит в карточке пользователя и одобрите снова или отклоните запрос.
device-request-user-inactive = ⚠️ У пользователя { $name } ({ $id }) больше нет активного доступа, поэтому <b>{ $device }</b> не создано. Запрос можно отклонить.
device-request-failed = ⚠️ Не удалось создать устройство <b>{ $device }</b> для { $name } ({ $id }). Попробуйте одобрить позже.
device-request-delivery-failed = ⚠️ Устройство <b>{ $device }</b> пользователя { $name } ({ $id }) создано, но конфигурацию доставить не удалось. Он может получить её в /devices.

# Напоминания (src/use-cases/reminders.ts): устройство, которое ни разу не подключалось, и еженедельная сводка для админов.
never-connected = 👋 Ваше устройство <b>{ $name }</b> ещё ни разу не подключалось к VPN. Вот как его настроить; кнопка пришлёт конфигурацию ещё раз.
never-connected-btn-config = 📦 Прислать конфигурацию ещё раз
weekly-digest-title = 📊 <b>Сводка за неделю</b> · { $from } – { $to }
weekly-digest-joined = 🆕 <b>Новые пользователи:</b> { $count }
weekly-digest-top = 📈 <b>Больше всего трафика за неделю:</b>
weekly-digest-none = —
weekly-digest-never = 💤 <b>Ни разу не подключались:</b> { $count }
weekly-digest-expiring = ⏳ <b>Истекают в ближайшую неделю:</b> { $count }

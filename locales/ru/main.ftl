welcome = 👋 Привет! Этот бот выдаёт доступ к частному VPN. Сначала короткая проверка, что вы человек.
captcha-question =
    🧮 Сколько будет <b>{ $a } + { $b }</b>? Нажмите правильный ответ.
    Осталось попыток: { $attempts }.
captcha-wrong = ❌ Неверный ответ.
captcha-cooldown = ⏳ Слишком много неверных ответов. Повторите /start через { $minutes } мин.
captcha-cooldown-short = Слишком много неверных ответов, подождите.
queue-full = ⏳ Сейчас слишком много заявок ждут администраторов. Попробуйте /start позже.
captcha-stale = Этот вопрос больше не действует. Отправьте /start, чтобы получить новый.
captcha-expired = ⌛ Время на ответ вышло. Отправьте /start, чтобы получить новый вопрос.
captcha-passed = ✅ Проверка пройдена.
captcha-passed-short = Верно!
request-sent = 📨 Заявка отправлена администраторам. Вы получите сообщение здесь, как только они примут решение.

status-pending = ⏳ Ваша заявка ждёт одобрения администратора.
status-provisioning = ⚙️ Заявка одобрена, конфигурация готовится.
status-active = ✅ Доступ активен. /config пришлёт конфигурацию ещё раз.
status-disabled = ⏸ Доступ приостановлен администратором.
status-rejected = 🚫 Ваша заявка отклонена.
status-revoked = Доступ отозван. Отправьте /start, чтобы подать заявку снова.
status-banned = 🚫 Администратор заблокировал вам доступ к этому VPN.
status-unknown = У вас пока нет доступа. Отправьте /start, чтобы его запросить.
status-peer =
    🔹 <b>{ $ip }</b>
    ↓ { $down } · ↑ { $up }
    Последнее рукопожатие: { $handshake }
never = никогда

config-none = У вас нет активной конфигурации. Обратитесь к администратору.
config-caption = Ваша конфигурация VPN ({ $ip }). Никому не передавайте этот файл.
config-qr-caption-awg = QR-код той же конфигурации: отсканируйте его в приложении AmneziaWG.
config-qr-caption-wg = QR-код той же конфигурации: отсканируйте его в приложении WireGuard.
config-howto-awg =
    <b>Как подключиться</b>
    • <b>AmneziaVPN</b> (Android, iOS, Windows, macOS, Linux): «+» → «Файл с настройками подключения» → выберите .conf-файл выше.
    • <b>AmneziaWG</b> (Android, iOS): «+» → импорт из файла или сканирование QR-кода.
    Обычное приложение WireGuard не подойдёт: сервер использует обфускацию AmneziaWG.
config-howto-wg =
    <b>Как подключиться</b>
    Установите <b>WireGuard</b> (wireguard.com/install) или AmneziaVPN, затем импортируйте .conf-файл выше или отсканируйте QR-код.

help =
    <b>Команды</b>
    /start – запросить доступ или узнать статус
    /status – статус, трафик, последнее подключение
    /usage – ваш трафик: график и текущий период
    /config – получить конфигурацию ещё раз
    /devices – ваши устройства: добавить, переименовать, удалить
    /language – русский или английский
    /help – эта справка
help-admin =
    <b>Команды администратора</b>
    /admin – заявки и пользователи
    /invite – ссылка-приглашение без одобрения
    /invites – действующие приглашения
    /backup – копия базы данных
    /broadcast – сообщение всем пользователям
    /status, /config – как у всех пользователей

backup-caption = 💾 Резервная копия базы. В ней все ключи в открытом виде: храните её в тайне. Восстановление описано в README.
backup-caption-clear-warning = 💾 Резервная копия базы.
    ⚠️ В ней все ключи в открытом виде: закрытый ключ сервера, закрытые и общие (preshared) ключи всех клиентов. Тот, у кого этот файл, может выдать себя за сервер или за любого клиента. Задайте <code>SECRETS_KEY</code> (<code>openssl rand -base64 32</code>) и перезапустите бота: тогда ключи хранятся зашифрованными — и в базе, и в её копиях. Восстановление описано в README.
backup-caption-encrypted = 💾 Резервная копия базы. Закрытые и общие ключи в ней зашифрованы ключом <code>SECRETS_KEY</code>: храните его отдельно от этого файла, без него копию не восстановить. Восстановление описано в README.
backup-postgres = 💾 База — PostgreSQL: бот не делает её резервных копий. Делайте их через <code>pg_dump</code> (см. README).
not-admin = ⛔ Только для администраторов.

btn-pending = 📥 Заявки ({ $count })
btn-users = 👥 Пользователи
btn-back = « Назад
btn-approve = ✅ Одобрить
btn-reject = 🚫 Отклонить
btn-disable = ⏸ Отключить
btn-enable = ▶️ Включить
btn-revoke = 🗑 Отозвать
btn-revoke-yes = 🗑 Да, отозвать
btn-cancel = Отмена
pending-none = Новых заявок нет.
users-header = 👥 <b>Пользователи</b> — страница { $page }/{ $pages }, всего { $total }
users-line = <b>{ $name }</b> { $username } (<code>{ $id }</code>) — { $status }, { $traffic }, был(а) { $seen }

label-pending = ожидает
label-provisioning = настраивается
label-active = активен
label-disabled = отключён
label-rejected = отклонён
label-revoked = отозван
label-banned = заблокирован администратором

card =
    👤 <b>{ $name }</b> { $username }
    ID: <code>{ $id }</code>
    Статус: { $status }
    С нами с: { $since }
card-blocked = 🚫 Заблокировал(а) бота { $since }
card-peer = 🔹 <code>{ $ip }</code> ({ $state }) ↓ { $down } ↑ { $up }, рукопожатие: { $handshake }
user-not-found = Пользователь не найден.
revoke-confirm = Отозвать доступ у <b>{ $name }</b> { $username } (<code>{ $id }</code>)? Ключи будут удалены; пользователь сможет подать заявку снова.

approval-request =
    🆕 <b>Заявка на доступ</b>
    Имя: { $name }
    Username: { $username }
    ID: <code>{ $id }</code>
approval-approved-by = ✅ Одобрил(а) { $admin }
approval-rejected-by = 🚫 Отклонил(а) { $admin }
approved-short = Одобрено
rejected-short = Отклонено
disabled-short = Отключено
enabled-short = Включено
revoked-short = Отозвано
already-decided = Уже обработано: статус пользователя — { $status }.
approve-failed-short = Не удалось создать пир VPN. Ничего не изменено.
error-pool-exhausted = ⚠️ В подсети VPN не осталось свободных адресов. Ничего не изменено; освободите адреса (отзовите пользователей) или расширьте VPN_SUBNET.
error-vpn = ⚠️ VPN-сервер не принял изменение, ничего не изменено, пользователю ничего не сообщено. Можно повторить.
    <code>{ $error }</code>
applied-later = ⚠️ Сохранено, но интерфейс VPN пока не обновлён; попытка повторится автоматически.
    <code>{ $error }</code>
delivery-failed = ⚠️ { $name } ({ $id }) одобрен(а), но конфигурацию доставить не удалось. Её можно получить командой /config.

you-are-approved = 🎉 Ваша заявка одобрена! Конфигурация ниже.
you-are-rejected = 🚫 К сожалению, ваша заявка отклонена.
you-are-disabled = ⏸ Ваш доступ к VPN приостановлен администратором.
you-are-enabled = ▶️ Ваш доступ к VPN снова активен. Конфигурация не изменилась.
you-are-revoked = Ваш доступ к VPN отозван. Отправьте /start, чтобы подать заявку снова.

monitor-interface-down = ⚠️ Интерфейс VPN <code>{ $iface }</code> пропал. Поднимаю его заново со всеми пирами…
monitor-interface-restored = ✅ Интерфейс VPN <code>{ $iface }</code> снова работает, пиры восстановлены.

rate-limited = Слишком много запросов. Подождите несколько секунд.

monitor-unknown-peers =
    ⚠️ На <code>{ $iface }</code> есть пиры, неизвестные боту (оставлены; RECONCILE_REMOVE_UNKNOWN=on удаляет их):
    <code>{ $keys }</code>

button-outdated = Эта кнопка больше не действует.
unknown-message = Не понял. /help покажет, что я умею.
error-generic = ⚠️ Что-то пошло не так. Попробуйте позже.

cmd-start = Начать / ваш статус
cmd-status = Статус и трафик
cmd-config = Получить конфигурацию
cmd-help = Справка
cmd-admin = Меню администратора
cmd-backup = Резервная копия базы
cmd-nodes = VPN-серверы

overview =
    🛠 <b>Обзор</b>
    Пользователи: ✅ { $active } активны · ⏳ { $pending } ждут · ⏸ { $disabled } отключены · 🚫 { $banned } заблокированы
    Заблокировали бота: { $unreachable }
    Сейчас онлайн: { $online }
    Трафик сегодня: { $today } · за месяц: { $month } · всего: { $all }
node-ok = ✅ { $node } (<code>{ $iface }</code>): работает, пиров: { $live }, как в базе
node-diverged = ⚠️ { $node } (<code>{ $iface }</code>): работает, на интерфейсе { $live } пиров, а в базе { $wanted }
node-down = ❌ { $node } (<code>{ $iface }</code>): интерфейс не работает
node-error = ⚠️ { $node } (<code>{ $iface }</code>): не читается: <code>{ $error }</code>
btn-top = 🏆 Топ за месяц
btn-search = 🔍 Поиск
btn-refresh = 🔄 Обновить
sort-new = 🆕 Новые
sort-traffic = 📊 Трафик
sort-seen = 👀 Активность
top-header = 🏆 <b>Топ пользователей за месяц</b>
top-line = { $n }. <b>{ $name }</b> { $username } — { $total } (↓ { $down } · ↑ { $up })
top-none = В этом месяце трафика ещё нет.
search-prompt = 🔍 Пришлите id, @username или часть имени ответом на это сообщение.
search-results = 🔍 Найдено по «{ $query }»:
search-none = 🔍 По «{ $query }» никого не нашлось.
btn-ban = 🚫 Заблокировать
btn-ban-yes = 🚫 Да, заблокировать
btn-unban = ✅ Разблокировать
ban-confirm = Заблокировать <b>{ $name }</b> { $username } (<code>{ $id }</code>)? Ключи будут удалены, и подать заявку снова нельзя, пока не разблокируют.
banned-short = Заблокирован
unbanned-short = Разблокирован
you-are-banned = 🚫 Администратор заблокировал вам доступ к этому VPN.
you-are-unbanned = Администратор снял блокировку. Отправьте /start, чтобы снова запросить доступ.
btn-chart = 📈 График трафика
chart-title = Трафик: { $name }, последние { $days } дней
chart-upload = Отдано
chart-download = Получено
chart-no-data = За эти дни трафика нет
chart-caption = 📈 { $name } { $username } — трафик по дням (UTC)
monitor-failing = ⚠️ Мониторинг { $ticks } раз подряд не смог прочитать <code>{ $iface }</code>; трафик не считается.
    <code>{ $error }</code>
monitor-recovered = ✅ Мониторинг <code>{ $iface }</code> снова работает.
monitor-database-down = ⚠️ База данных недоступна: запросы, одобрения и учёт трафика не работают, пока она не вернётся.
    <code>{ $error }</code>
monitor-database-restored = ✅ База данных снова доступна.
alert-provisioning-failed = ⚠️ Пиры VPN не создаются: одобрения откатываются, пока это не исправят.
    <code>{ $error }</code>
alert-provisioning-recovered = ✅ Пиры VPN снова создаются.
alert-pending-full = ⚠️ Ждут { $max } заявок (MAX_PENDING): новичков просят зайти позже. Разберите заявки в /admin.
language-name = 🇷🇺 Русский
language-choose = Выберите язык:
language-set = ✅ Теперь бот говорит с вами по-русски.
cmd-language = Язык
config-amnezia-key = 🔑 <b>Ключ AmneziaVPN</b> (нажмите, чтобы скопировать, затем в AmneziaVPN: «+» → «Вставить ключ»):
status-limited = ⛔ Лимит трафика на этот период исчерпан. Доступ вернётся с началом следующего периода или когда администратор поднимет лимит.
status-expired = ⌛ Срок доступа истёк. Попросите администратора продлить его.
label-limited = лимит исчерпан
label-expired = срок истёк
you-are-limited = ⛔ Лимит трафика на этот период исчерпан, VPN приостановлен до следующего периода (или пока администратор не поднимет лимит).
you-are-expired = ⌛ Срок вашего доступа к VPN истёк. Попросите администратора продлить его.
quota-warning = ⚠️ Вы израсходовали { $percent }% месячного лимита трафика.
expiry-warning-3 = ⏳ Доступ к VPN истекает через 3 дня.
expiry-warning-1 = ⏳ Доступ к VPN истекает менее чем через сутки.
limit-lifted = ✅ Доступ к VPN снова работает. Конфигурация не изменилась.
admin-user-limited = ⛔ { $name } (<code>{ $id }</code>) исчерпал(а) лимит трафика; VPN приостановлен.
admin-user-expired = ⌛ У { $name } (<code>{ $id }</code>) истёк срок доступа; VPN приостановлен.
card-limits = Лимит: { $used } из { $quota }{ $topup } за период · Действует до: { $expires } · Устройств: до { $devices }
unlimited = без лимита
no-expiry = бессрочно
btn-limits = 📦 Лимит и срок
btn-lift = ✅ Снять ограничение
btn-extend = +{ $days } дн.
btn-no-expiry = Бессрочно
btn-reset-usage = ♻️ Обнулить расход периода
limits-menu = Выберите лимит на период, продлите доступ или обнулите расход:
limits-saved = Сохранено
btn-max-devices = 📱 { $n }
btn-max-devices-default = 📱 по умолчанию

# Заявки: сводка (одна живая сводка у каждого админа при наплыве), просмотр, одобрить все.
approval-approved = ✅ Одобрено
digest =
    🆕 <b>Заявок ждут решения: { $count }</b>
    Новые: { $names }
digest-more = и ещё { $more }
digest-done = ✅ Заявок больше нет: по всем принято решение.
btn-review = 🔎 Просмотреть
btn-approve-all = ✅ Одобрить все ({ $count })
btn-skip = ⏭ Пропустить
btn-review-again = 🔁 С начала
review-request =
    🆕 <b>Заявка { $pos } из { $total }</b> (сначала старые)
    Имя: { $name }
    Username: { $username }
    ID: <code>{ $id }</code>
    Подана: { $asked }
review-end = ✅ Дальше заявок нет. Ждут решения: { $count }.
approve-all-confirm = Одобрить все заявки ({ $count }) до самой новой из показанных? Каждый получит пир и свою конфигурацию.
btn-approve-all-yes = ✅ Одобрить { $count }
approve-all-cancelled = Ничего не одобрено.
approve-all-started = Одобряю…
approve-all-done = ✅ Одобрено: { $approved }. Ждут решения: { $left }.
approve-all-failed = ⚠️ Одобрено: { $approved }, затем создать пир не удалось; остальные ждут ({ $left }). Причина — в оповещении.
outbox-unknown =
    ⚠️ Бот остановился, отправляя сообщения ({ $count }). Telegram мог их доставить, а мог и нет, поэтому повторно они не отправляются:
    { $list }
    Если у пользователя нет конфигурации, он может получить её командой /config.
config-coming = 📦 Конфигурация уже в пути.

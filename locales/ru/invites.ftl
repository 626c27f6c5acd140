# Ссылки-приглашения (src/bot/features/invites.ts).
cmd-invite = Создать ссылку-приглашение
cmd-invites = Действующие приглашения

invite-ask-uses = 🎟 <b>Новая ссылка-приглашение</b>. Сколько человек смогут по ней войти?
invite-ask-expiry = 🎟 <b>Новая ссылка-приглашение</b>: { $uses }. Сколько она действует?
invite-uses-1 = 1 человек (одноразовая)
invite-uses-5 = 5 человек
invite-uses-25 = 25 человек
invite-uses-0 = без ограничений
invite-days-1 = 1 день
invite-days-7 = 7 дней
invite-days-30 = 30 дней
invite-days-0 = бессрочно
invite-btn-cancel = Отмена
invite-cancelled = Ссылка-приглашение не создана.
invite-created =
    🎟 <b>Ссылка-приглашение <code>{ $id }</code></b>
    Для: { $uses } · срок: { $expiry }
    <code>{ $link }</code>
invite-label = 🏷 { $note }
invite-shown-once = ⚠️ Ссылка показывается только один раз: бот хранит лишь её отпечаток. Любой, у кого она есть, войдёт без одобрения; отозвать её можно в /invites.
invite-until = до { $time }

invites-none = 🎟 Действующих приглашений нет. Создать: /invite.
invites-header = 🎟 <b>Действующие приглашения</b> — страница { $page }/{ $pages }, всего { $total }
invites-line = <code>{ $id }</code> — использовано { $used }/{ $max } · { $expiry } · создал(а) { $admin }
invite-btn-revoke = 🗑 Отозвать { $id }
invite-revoked-short = Приглашение отозвано
invite-not-active = Это приглашение уже отозвано, истекло или использовано.

invite-accepted = 🎟 Приглашение принято. Пройдите короткую проверку ниже — и доступ будет выдан без ожидания одобрения.
invite-invalid = ⚠️ Эта ссылка-приглашение больше не действует: она использована, истекла или отозвана. Вы всё равно можете запросить доступ: заявка уйдёт администраторам как обычно.
invite-welcome = 🎉 Добро пожаловать! Вы вошли по приглашению. Ниже — ваша конфигурация.
invite-joined = 🎟 { $name } { $username } (<code>{ $id }</code>) вошёл(ла) по приглашению <code>{ $invite }</code> (создал(а) { $admin }).

# Рассылки: сообщение администратора многим пользователям (src/bot/features/broadcast.ts, src/broadcast/).
cmd-broadcast = Сообщение всем пользователям

broadcast-unavailable = Рассылки сейчас недоступны.
broadcast-prompt =
    📣 Пришлите сообщение для рассылки: текст или фото с подписью. Оформление сохранится как есть.
    Жду его { $minutes } мин.
broadcast-expired = ⌛ Рассылка слишком долго ждала сообщения. Отправьте /broadcast ещё раз.
broadcast-unsupported = Разослать можно только текст или фото (с подписью). Пришлите одно из них или нажмите «Отмена».
broadcast-cancelled = Рассылка отменена.
broadcast-confirm =
    ☝️ Так будет выглядеть сообщение.
    Получатели: <b>{ $audience }</b>, всего { $count }. Те, кто заблокировал бота, пропускаются.
broadcast-audience-active = активные пользователи
broadcast-audience-all = все, кроме отклонённых
broadcast-audience-pending = ожидающие заявки
broadcast-btn-active = Активные
broadcast-btn-all = Все
broadcast-btn-pending = Заявки
broadcast-btn-send = 📣 Отправить ({ $count })
broadcast-btn-cancel = Отмена
broadcast-btn-stop = ⏹ Остановить
broadcast-nobody = В этой группе некому отправлять.
broadcast-not-draft = Эта рассылка уже отправлена или отменена.
broadcast-not-sending = Эта рассылка уже не идёт.
broadcast-started-short = Отправляю…
broadcast-stopping-short = Останавливаю…
broadcast-progress = 📣 Рассылка №{ $id }: { $done }/{ $total } · доставлено { $sent } · ошибок { $failed } · заблокировали { $blocked }
broadcast-progress-final = 📣 Рассылка №{ $id } завершена: доставлено { $sent }, ошибок { $failed }, заблокировали { $blocked }, не отправлено { $cancelled }.
broadcast-report =
    ✅ <b>Рассылка №{ $id } завершена</b>
    Доставлено: { $sent } из { $total }
    Ошибок: { $failed }
    Заблокировали бота: { $blocked } (следующие рассылки их пропустят)
broadcast-report-cancelled =
    ⏹ <b>Рассылка №{ $id } остановлена</b>
    Доставлено: { $sent } из { $total }
    Ошибок: { $failed }
    Заблокировали бота: { $blocked } (следующие рассылки их пропустят)
    Не отправлено: { $cancelled }
broadcast-report-unknown = Неизвестно, без повтора: { $unknown }. Перезапуск прервал эти отправки; они могли дойти или нет, и повторно не отправляются, чтобы никто не получил сообщение дважды.

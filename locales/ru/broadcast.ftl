# Рассылки: сообщение администратора многим пользователям (src/bot/features/admin/broadcast*.ts, src/broadcast/).
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
broadcast-audience-inactive = активные пользователи без рукопожатия { $days } дней и дольше (включая тех, кто ни разу не подключался)
broadcast-audience-quota = активные пользователи, израсходовавшие 80 % квоты или больше в этом периоде
broadcast-audience-expiring = активные пользователи, чей доступ истекает в ближайшие { $days } дн.
broadcast-audience-node = активные пользователи с устройством на узле { $node }
broadcast-audience-language = активные пользователи с языком { $language }{ $unstored ->
    [yes] {" "}(и те, чей язык неизвестен)
   *[no] {""}
}
broadcast-btn-active = Активные
broadcast-btn-all = Все
broadcast-btn-pending = Заявки
broadcast-btn-inactive = 💤 Неактивные (и не подключавшиеся)
broadcast-btn-quota = 📊 ≥ 80 % квоты
broadcast-btn-expiring = ⏳ Истекают
broadcast-btn-node = 🖥 На узле
broadcast-btn-language = 🌐 По языку
broadcast-btn-days = { $days } дн.
broadcast-unknown-node = Узла { $node } больше нет. Ничего не изменено.
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

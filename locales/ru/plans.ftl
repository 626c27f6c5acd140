# Планы сброса, пополнения и срок от первого подключения (карточка пользователя).
plan-none = никогда
plan-day = ежедневно
plan-week = еженедельно
plan-month = ежемесячно
plan-rolling = каждые 30 дней
period-never-ends = никогда (общий объём)
usage-topup = {" "}(вкл. пополнение { $topup })
expiry-at-first-connection = отсчёт с первого подключения ({ $days } дн.)
card-period = Сброс расхода: { $plan } · Период до: { $end }
btn-plan = 🔁 План
btn-plan-default = По умолчанию ({ $plan })
btn-topup = +{ $gb } GiB
btn-extend-from-connection = +{ $days } дн. с 1-го подключения
plans-menu = Выберите, когда обнуляется расход пользователя, или добавьте трафик только на этот период (пополнение заканчивается вместе с периодом):
topup-added = +{ $gb } GiB добавлено на этот период

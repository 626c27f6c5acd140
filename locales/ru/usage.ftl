# /usage и итог в конце периода.
cmd-usage = Ваш трафик
usage-now =
    📊 <b>Ваш трафик</b>
    В этом периоде: { $used } из { $quota } { $topup }
    Сброс расхода: { $plan } · Период до: { $end }
    Доступ до: { $expires }
usage-members-only = /usage покажет ваш трафик, когда у вас будет доступ.
usage-summary = 📊 Начался новый период. В прошлом периоде вы израсходовали { $used } GiB.
usage-summary-of = 📊 Начался новый период. В прошлом периоде вы израсходовали { $used } GiB из { $allowed } GiB.

nodes-title = 🌍 <b>VPN-серверы</b>
node-row =
    <b>{ $node }</b> · { $location } · { $health }
    { $host } · <code>{ $iface }</code> · { $subnet } · активных пиров: { $peers } · { $state }
node-state-active = принимает новых
node-state-draining = ⏸ выводится (пиры остаются, новых не берёт)
node-health-up = ✅ работает
node-health-down = ❌ не отвечает с { $since }
btn-node-drain = ⏸ Вывести { $node }
btn-node-resume = ▶️ Вернуть { $node }
btn-node-remove = 🗑 Удалить { $node }
nodes-add-hint = Добавить сервер: <code>/nodes add name=ams ssh=root@203.0.113.5 hostkey=SHA256:… endpoint=203.0.113.5 subnet=10.9.0.0/24 location="Амстердам"</code> (ещё можно: port, iface, flavor, key, dir). SSH-ключ бота должен быть в authorized_keys сервера; отпечаток ключа хоста даёт <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> на сервере.
nodes-usage = <code>/nodes</code> — список серверов, <code>/nodes add name=… ssh=… hostkey=… endpoint=… subnet=…</code> — добавить сервер.
node-add-invalid =
    Ничего не добавлено:
    { $problems }
node-adding = Подключаюсь к { $node } и поднимаю интерфейс…
node-added = ✅ Сервер { $node } работает и принимает новых пиров.
node-add-failed =
    ❌ Сервер { $node } не добавлен:
    <code>{ $error }</code>
node-unknown = Такого сервера уже нет.
node-unavailable = { $node } сейчас не принимает новых (не отвечает, выводится или удалён).
node-drained = { $node } выводится: новые пиры туда не попадут.
node-resumed = { $node } снова принимает новых.
node-removed = { $node } удалён.
node-not-empty = На { $node } ещё есть пиры: сначала перенесите пользователей.
btn-move = 🌍 Перенести на другой сервер
move-choose = На какой сервер перенести { $name }? Пользователь получит новые конфиги, старые перестанут работать.
moved-short = Перенесён
moved = ✅ { $name } перенесён на { $node }; новые конфиги уже в пути.
move-failed =
    ❌ Перенос не удался:
    <code>{ $error }</code>
you-are-moved = 🌍 Ваш VPN переехал на другой сервер. Импортируйте новую конфигурацию ниже; старая больше не работает.
choose-location = 🌍 Куда подключаться? Можно не выбирать: будет использован наименее загруженный сервер.
location-chosen = 🌍 Расположение: { $location }.

# Keepwell — русский
nav-accounts = Аккаунты
nav-contacts = Контакты
nav-team = Команда
nav-api = API и ключи
nav-audit = Журнал изменений
nav-logout = Выйти
language = Язык
apply = Применить
search = Найти
save = Сохранить
cancel = Отмена
edit = Изменить
delete = Удалить
created = Создан
updated = Изменён
status = Статус
status-active = Активен
status-disabled = Отключён
sort = Сортировка
back-home = К аккаунтам
login-title = Вход
login-intro = Войдите в рабочее пространство клиентского успеха.
login-submit = Войти
login-failed = Неверный e-mail или пароль.
login-too-many = Слишком много неудачных попыток. Подождите 15 минут и попробуйте снова.
login-logged-out = Вы вышли из системы.
field-name = Название
field-email = E-mail
field-password = Пароль
field-domain = Домен
field-industry = Отрасль
field-employees = Сотрудников
field-country = Страна
field-plan = Тариф
field-lifecycle_stage = Этап
field-owner = Ответственный
field-tags = Метки
field-external_ids = Внешние идентификаторы
field-attributes = Дополнительные поля
field-account = Аккаунт
field-title = Должность
field-role = Роль
field-locale = Язык
field-external_user_ids = Идентификаторы в продукте
field-required = Обязательное поле.
hint-country = Две буквы: DE, US, FR…
hint-tags = Через запятую.
hint-external-ids = По одному в строке: вид: значение — например crm: 0015g00000ABC или stripe: cus_123.
hint-attributes = По одному в строке: имя = значение. Числа, даты (ГГГГ-ММ-ДД) и true/false сохраняют тип.
form-has-errors = Некоторые поля нужно исправить — см. сообщения под ними.
accounts-count = { $count ->
    [one] { $count } аккаунт
    [few] { $count } аккаунта
    [many] { $count } аккаунтов
   *[other] { $count } аккаунта
}
accounts-search = Поиск по названию или домену
accounts-by-stage = Аккаунты по этапам
accounts-none-match = Ни один аккаунт не подходит под фильтры.
accounts-empty-title = Аккаунтов пока нет
accounts-empty-body = Создайте первый аккаунт здесь или импортируйте клиентов из выгрузки CRM:
filters-clear = Сбросить фильтры
filter-any-owner = Любой ответственный
filter-mine = Мои аккаунты
filter-no-owner = Без ответственного
filter-any-stage = Любой этап
filter-any-tag = Любая метка
filter-any-country = Любая страна
page-first = ← Первая страница
page-next = Следующая страница →
account-new = Новый аккаунт
account-edit = Изменить аккаунт
account-profile = Профиль
account-created = Аккаунт { $name } создан.
account-saved = Аккаунт { $name } сохранён.
account-deleted = Аккаунт { $name } удалён.
account-delete-confirm = Удалить аккаунт вместе с контактами? Отменить будет нельзя.
external-ids-none = Внешних идентификаторов нет. Добавьте идентификатор из CRM, биллинга или продукта, чтобы связать данные с аккаунтом.
attributes-none = Дополнительных полей нет.
contact-new = Добавить контакт
contact-edit = Изменить контакт
contact-saved = Контакт { $email } сохранён.
contact-deleted = Контакт { $email } удалён.
contact-delete-confirm = Удалить контакт?
contacts-search = Поиск по e-mail или имени
contacts-empty = Контактов пока нет. Добавьте их на странице аккаунта или импортируйте:
contacts-empty-account = Контактов пока нет. Начните с чемпиона и лица, принимающего решение.
timeline = Хронология
timeline-more = Здесь появятся подписки, использование продукта, обращения и разговоры.
stage-onboarding = Внедрение
stage-adoption = Освоение
stage-value = Ценность
stage-expansion = Расширение
stage-advocacy = Адвокация
stage-renewal = Продление
stage-churned = Ушёл
role-admin = Администратор
role-manager = Руководитель
role-csm = CSM
role-viewer = Наблюдатель
contact-role-champion = Чемпион
contact-role-decision_maker = Принимает решение
contact-role-user = Пользователь
contact-role-billing = Оплата
type-text = текст
type-number = число
type-date = дата
type-bool = да/нет
team-add = Добавить участника
team-created = { $name } теперь может войти.
team-password-once = Пароль показан только сейчас. Передайте его надёжным способом; сменить его можно на личной странице.
team-saved = { $name }: изменения сохранены.
team-tokens-stopped = Их API-токены больше не действуют: { $tokens }.
team-last-admin = Это последний активный администратор: сначала назначьте администратором другого участника.
team-disable = Отключить
team-enable = Включить
team-not-yourself = Нельзя отключить себя или понизить свою роль; попросите другого администратора.
team-roles-help = Наблюдатели всё видят. CSM изменяют свои аккаунты. Руководители изменяют все аккаунты. Администраторы также управляют командой, токенами и ключами.
tokens = Токены API
tokens-help = Токены дают скриптам доступ к REST API с выбранной ролью. Передавайте их как Authorization: Bearer TOKEN. Токен действует от имени создавшего его участника, с меньшей из двух ролей: если участника понизили или отключили, его токены теряют права вместе с ним.
token-made-as = создан как { $role }
token-inactive = не действует (участник отключён или удалён)
tokens-empty = Токенов пока нет.
token-create = Создать токен
token-revoked = Токен отозван.
writekeys = Ключи для приёма событий
writekeys-help = Ключи позволяют продукту присылать события использования (совместимо с Segment). Больше они ничего не умеют.
writekeys-empty = Ключей пока нет.
writekey-create = Создать ключ
key-revoked = Ключ отозван.
secret-once = Скопируйте сейчас: он показывается только один раз.
prefix = Начинается с
last-used = Последнее использование
revoke = Отозвать
revoked = Отозван
revoke-confirm = Отозвать? Всё, что его использует, сразу перестанет работать.
audit-entity = Вид
audit-all = Всё
audit-when = Когда
audit-who = Кто
audit-what = Что
audit-changes = Изменения
audit-empty = Изменений пока не было.
entity-account = Аккаунты
entity-contact = Контакты
entity-user = Команда
entity-api_token = Токены API
entity-write_key = Ключи событий
action-account-create = Аккаунт создан
action-account-update = Аккаунт изменён
action-account-delete = Аккаунт удалён
action-account-import = Аккаунты импортированы
action-contact-create = Контакт создан
action-contact-update = Контакт изменён
action-contact-delete = Контакт удалён
action-contact-import = Контакты импортированы
action-user-create = Участник добавлен
action-user-update = Участник изменён
action-user-password = Пароль изменён
action-token-create = Токен создан
action-token-revoke = Токен отозван
action-writekey-create = Ключ создан
action-writekey-revoke = Ключ отозван
password-change = Смена пароля
password-current = Текущий пароль
password-new = Новый пароль (не короче 12 символов)
password-confirm = Новый пароль ещё раз
password-wrong = Текущий пароль неверен.
password-mismatch = Новые пароли не совпадают.
password-changed = Пароль изменён. Остальные сеансы завершены.
sessions = Сеансы
sessions-device = Браузер
sessions-this = Этот сеанс
sessions-end = Завершить
session-ended = Сеанс завершён.
error-not-found = Здесь ничего нет. Возможно, это удалили.
error-forbidden = Ваша роль этого не позволяет. Если нужно, обратитесь к администратору.
error-csrf = Форма устарела. Вернитесь, обновите страницу и попробуйте снова.
error-too-large = Слишком много данных для одной формы.
error-internal = У нас что-то пошло не так. Ошибка записана; попробуйте чуть позже.
error-busy = Сервер сейчас занят. Попробуйте через несколько секунд.
error-bad-request = В адресе есть то, что страница не может прочитать; вернитесь и попробуйте снова.

## Revenue
nav-revenue = Выручка
nav-renewals = Продления
revenue-from = С
revenue-to = По
revenue-plan = Тариф
revenue-all-plans = Все тарифы
revenue-all-countries = Все страны
revenue-all-industries = Все отрасли
revenue-all-owners = Все ответственные
revenue-empty = Данных о биллинге пока нет. Импортируйте подписки (keepwell import subscriptions ФАЙЛ), отправьте их в /api/v1/accounts/ID/subscriptions или направьте вебхук Stripe на /webhooks/stripe.
revenue-paying = платящих клиентов
revenue-mrr-chart = MRR на конец каждого месяца
revenue-net-chart = Чистый прирост MRR по месяцам
revenue-cohort = Месяц начала
revenue-months-since = Клиенты, которые всё ещё платят, по месяцам с начала
revenue-no-cohorts = В этом периоде никто не начал платить.
revenue-today = Сегодня, { $day }
revenue-at-month-end = На конец { $month }
revenue-projected = Прогноз на конец { $month } по известным сегодня подпискам: { $mrr } { $currency } MRR.
revenue-renewal-rates-count = Только продления договоров (сроки от { $months } мес.); помесячные планы продлеваются сами и видны в оттоке.
metric-mrr = MRR, ARR и ARPA
metric-mrr_movements = Движение MRR
metric-customer_churn = Отток клиентов
metric-revenue_churn = Отток выручки
metric-retention = Удержание
metric-nrr = Чистое удержание выручки (NRR)
metric-grr = Валовое удержание выручки (GRR)
metric-clv = Пожизненная ценность клиента (CLV)
metric-cohorts = Когорты по месяцу начала
metric-renewal-rates = Доля продлений
renewals-window = Период
renewals-next-days = Ближайшие { $days } дн.
renewals-mine = Мои
renewals-status = Статус
renewals-status-all = Все
renewals-status-pending = Без решения
renewals-status-decided = С решением
renewals-forecast = Прогноз
renewals-forecast-rate = прогноз по чистой доле продлений за 12 месяцев, { $rate } %
renewals-due = Срок
renewals-in-days = через { $days } дн.
renewals-outcome = Итог
renewals-new-arr = Новый ARR
renewals-reason = Причина
renewals-record = Записать
renewals-empty = В этом периоде продлений нет. Продления появляются для каждого периода подписки с датой продления или окончания.
renewals-terms = Сроки
renewals-terms-contract = Продления договоров (сроки от { $months } мес.)
renewals-terms-monthly = Помесячные продления
renewals-terms-all = Все продления
renewals-term = срок { $months } мес.
renewals-at-latest-rate = Пересчитано по последнему известному на сегодня курсу (для месяца продления курса ещё нет): { $count }; месяц курса — в подсказке к сумме.
renewals-unconverted = { $count ->
    [one] { $count } продление в валюте без курса к { $currency } не вошло в итоги: добавьте курсы через keepwell import fx_rates или POST /api/v1/fx-rates.
   *[other] Продлений в валютах без курса к { $currency }: { $count }; они не вошли в итоги. Добавьте курсы через keepwell import fx_rates или POST /api/v1/fx-rates.
}
renewals-also-monthly = Кроме них, помесячных подписок, которые продлеваются сами в этом периоде: { $count } ({ $arr } { $currency } ARR); за ними следят через отток, а не ведут как продления.
renewals-also-contract = Кроме них, продлений договоров в этом периоде: { $count } ({ $arr } { $currency } ARR).
renewals-show = Показать
renewals-rate-of = пересчитано по курсу { $month }
renewals-no-rate = нет курса
renewals-scheduled-churn = Уход назначен на { $day }, ещё можно сохранить
renewal-recorded = Итог продления записан: { $account }.
renewal-not-yours = Итог продления может записать только ответственный за клиента или менеджер.
outcome-renewed = Продлено
outcome-renewed_with_upsell = Продлено с расширением
outcome-renewed_with_downsell = Продлено с сокращением
outcome-churned = Ушёл
billing = Биллинг
billing-seats = Места
billing-contract-value = Стоимость договора
billing-terms = Условия оплаты
billing-tenure = Клиент уже
billing-days = { $days } дн.
billing-renewal = Следующее продление
billing-mrr-history = MRR по месяцам
billing-invoice = Счёт
billing-issued = Выставлен
billing-due = Срок оплаты
billing-amount = Сумма
billing-status = Статус
billing-overdue = просрочен на { $days } дн.
billing-empty = У этого клиента пока нет подписок и счетов.

nav-usage = Использование
usage = Использование продукта
usage-explore = События
usage-empty = Событий продукта пока нет. Создайте ключ записи и направьте Segment (или любую библиотеку Segment) на адреса /v1 этого сервера, или загрузите историю командой `keepwell import events FILE`.
usage-empty-keys = Создать ключ записи
usage-empty-account = У этого клиента пока нет данных об использовании. События приходят по ключу записи (Настройки → Доступ к API), когда его пользователи привязаны к нему (вызов group в Segment с его внешним идентификатором вида segment).
usage-window = Период
usage-last-days = Последние { $days } дн.
usage-least = Наименее активные клиенты
usage-most = Самые активные клиенты
usage-active-users = Активные пользователи
usage-events = События
usage-users = Пользователи
usage-last-seen = Последняя активность
usage-none-in-window = За этот период активности нет.
usage-events-title = События
usage-account-id = Id клиента
usage-account = Клиент
usage-user = Пользователь
usage-event = Событие
usage-from = С
usage-to = По
usage-clear = Сбросить фильтры
usage-time = Время (UTC)
usage-type = Тип
usage-properties = Свойства
usage-older = Более ранние события →
usage-events-none-match = Нет событий по этим фильтрам.
usage-dau-wau-mau = Активные: день / неделя / 30 дней
usage-license = Использование лицензий
usage-of-seats = { $active } из { $seats } мест
usage-no-seats = нет действующих мест
usage-adoption = Освоение функций
usage-features-used = { $used } из { $total } функций
usage-no-features = функции тарифа не заданы
usage-events-30 = События за 30 дней
usage-vs-previous = против { $n } за предыдущие 30 дней
usage-active-chart = Активные пользователи по дням
usage-top-events = Частые события за 30 дней
usage-features = Функции тарифа
usage-people = Последняя активность людей
features-title = Функции тарифов
features-help = Какие события означают использование какой функции, по тарифам. Одна функция в строке: «тариф: функция = Событие, page:Страница». Освоение функций — доля функций тарифа, которыми клиент пользовался за последние 30 дней.
features-saved = Функции тарифов сохранены.
usage-include = Клиенты
usage-include-customers = Текущие клиенты
usage-include-all = Все клиенты
nav-segments = Сегменты
nav-health = Здоровье
health = Здоровье
filter-any-band = Любое здоровье
band-red = Красный
band-yellow = Жёлтый
band-green = Зелёный
band-unscored = Без оценки
health-churned = Выручки не осталось: ушедший клиент не оценивается.
health-unscored = Слишком мало данных для оценки: данные есть у { $coverage } % веса показателей, а карте нужно { $min } %.
health-coverage = Оценка опирается на { $coverage } % веса показателей.
health-coverage-raise = Её повысили бы данные для: { $measures }.
band-churned = Ушёл
health-overridden = задано вручную
health-scored-by = по карте { $name }
health-since = за { $days } дн.
health-override-note = Задано вручную: { $score } ({ $author }): «{ $reason }» до { $expires }. Расчётная оценка: { $computed }.
health-override-clear = Снять ручную оценку
health-no-data = Ни по одной метрике пока нет данных.
health-no-scorecard = Ни одна карта не подходит: добавьте карту по умолчанию.
health-measure = Метрика
health-value = Значение
health-measure-score = Оценка
health-weight = Вес
health-contribution = Баллы
health-not-applicable = не применяется
health-missing = нет данных
health-history = История оценки здоровья
health-days = { $n } дн.
health-sentiment = Оценка CSM
health-sentiment-none = Аккаунт ещё никто не оценивал.
health-rating = Оценка
health-rating-1 = очень недоволен
health-rating-2 = недоволен
health-rating-3 = нейтрально
health-rating-4 = доволен
health-rating-5 = очень доволен
health-reason = Причина
health-sentiment-add = Добавить оценку
health-sentiment-saved = Оценка сохранена.
health-override = Задать оценку вручную
health-score = Оценка
health-expires = До
health-override-set = Задать
health-override-saved = Оценка задана вручную.
health-override-cleared = Ручная оценка снята.
health-stages = Этапы жизненного цикла
health-stages-none = Этап ещё не менялся.
segment-filter = Фильтр
definition-skipped = Ежедневный проход пропускает это определение, пока его не исправят:
segment-members = Участники
segments-empty-title = Сегментов пока нет
segments-empty-body = Сегмент — сохранённый фильтр; он обновляется каждый день, с историей входов и выходов. Создайте его ниже или кодом:
segment-new = Новый сегмент
segment-key = Ключ
segment-live-hint = Введите фильтр, чтобы увидеть, сколько аккаунтов в него попадает.
segment-language-hint = Поля: plan, country, industry, employees, stage, mrr, arr, tenure_days, days_to_renewal, health, band, tags, attribute.ИМЯ; функции вроде active_users(30) и license_utilization(); =, !=, <, <=, >, >=, in [..], contains, and, or, not, ( ).
segment-accounts = аккаунтов
segment-saved = Сегмент сохранён, состав обновлён.
segment-deleted = Сегмент удалён.
segment-delete-confirm = Удалить сегмент и его историю?
segment-since = с { $day }
segment-more = и ещё { $n } (полный список — в API)
segment-no-members = Сегодня в сегменте нет аккаунтов.
segment-history = Кто вошёл и вышел (90 дней)
segment-entered = вошёл
segment-left = вышел
segment-history-none = За 90 дней никто не входил и не выходил.
scorecards = Карты здоровья
scorecard-new = Новая карта
scorecards-intro = Молодой аккаунт оценивается картой внедрения, иначе — первой картой сегмента, в который он входит, иначе — картой по умолчанию. Каждая метрика переводится в 0–100; оценка — взвешенное среднее применимых метрик.
scorecard-scores = Кого оценивает
scorecard-priority = Приоритет
scorecard-measures = Метрик
scorecard-revision = Версия
scorecard-for-segment = участников сегмента { $segment }
scorecard-for-onboarding = аккаунты в первые { $days } дн.
scorecard-default = всех остальных (по умолчанию)
scorecard-editor-hint = Карта как код, в формате `keepwell apply`. При сохранении проверяется целиком и получает новую версию; прошлые снимки хранят версию, которой оценены.
scorecard-one = В редакторе должна быть ровно одна [[scorecard]].
scorecard-saved = Карта сохранена, оценки за сегодня пересчитаны.
backtest = Проверка на истории
backtest-horizon = Отток в течение (дней)
from = С
to = По
backtest-intro = Насколько оценка предсказывала отток (MRR до нуля) в течение { $days } дн. для каждого аккаунто-дня с { $from } по { $to }.
backtest-no-churn = В этот период никто не ушёл, предсказывать нечего: выберите период длиннее.
backtest-auc = ROC AUC (0,5 — случайно, 1 — идеально)
backtest-account-days = Аккаунто-дней
backtest-step = каждый { $n }-й день
backtest-churned = Ушли в пределах горизонта
backtest-red-lift = Лифт красной зоны
backtest-roc = ROC-кривая
backtest-band = Зона
backtest-churn-rate = Отток, %
backtest-churn-by-band = Отток по зонам, %
backtest-measures = Каждая метрика отдельно
backtest-observations = Аккаунто-дней с данными
backtest-suggested = Предлагаемый вес
backtest-fit = Веса подобраны логистической регрессией на { $fitted_from } – { $fitted_to } и проверены на более позднем { $held_from } – { $held_to }: AUC { $current } с текущими весами, { $suggested } с предложенными.
backtest-apply = Применить предложенные веса
backtest-no-fit = Мало истории для подбора весов (нужен отток в первой части периода).
backtest-applied = Предложенные веса применены: новая версия карты.
action-segment-create = Сегмент создан
action-segment-update = Сегмент изменён
action-segment-delete = Сегмент удалён
action-scorecard-create = Карта создана
action-scorecard-update = Карта изменена
action-scorecard-delete = Карта удалена
action-lifecycle_rule-create = Правило этапа создано
action-lifecycle_rule-update = Правило этапа изменено
action-lifecycle_rule-delete = Правило этапа удалено
action-sentiment-create = Оценка CSM
action-health_override-create = Оценка задана вручную
action-health_override-clear = Ручная оценка снята
lifecycle-rules = Правила этапов
lifecycle-intro = Каждый ежедневный проход переводит аккаунт на этап первого (по приоритету) правила, условие которого выполняется, и записывает смену с этим правилом как причиной. Ручные переводы сохраняются, пока ни одно правило не выполняется.
lifecycle-when = Когда
lifecycle-moves-to = Переводит на
lifecycle-empty = Правил нет: этапы меняются только вручную.
lifecycle-new = Добавить или изменить правило (по ключу)
lifecycle-saved = Правило сохранено, этапы обновлены.
lifecycle-deleted = Правило удалено.
lifecycle-delete-confirm = Удалить правило? Выставленные им этапы останутся.

## Usage waiting for an account
waiting-title = Ждут своего аккаунта
waiting-intro = Эти события не дошли ни до одного аккаунта: их groupId нет ни у одного аккаунта (или он есть у двух, и какой имеется в виду, мы не угадываем). Они дойдут, как только id появится у аккаунта: импортируйте аккаунты или свяжите groupId с аккаунтом здесь. Пока что ничего не теряется.
waiting-group = groupId
waiting-user = пользователь { $user }, не привязан к группе
waiting-seen = Видели
waiting-why = Почему
waiting-more = Ждут и другие: все — в GET /api/v1/usage/unmatched.
waiting-account = Аккаунт (любой его id)
waiting-csv = Или сразу много, по строке: group_id,account_external_id
waiting-link = Связать
waiting-link-empty = Укажите groupId и аккаунт или вставьте строки group_id,account_external_id.
waiting-linked = { $events } событий дошли до аккаунтов: { $accounts }.
waiting-replay = Пересчитать оценки этих аккаунтов с { $from } по { $to }
waiting-replayed = Пересчитано { $days } дней для аккаунтов: { $accounts }.

## Webhooks and deliveries
nav-webhooks = Вебхуки
nav-deliveries = Отправки
webhooks-help = Keepwell отправляет события рабочего пространства на эти HTTPS-адреса с подписью по спецификации Standard Webhooks: проверяйте их любой из её библиотек и секретом адреса. Адрес, который не отвечает сутки, отключается.
webhooks-empty = Адресов пока нет. Добавьте адрес ниже, чтобы узнавать о новых аккаунтах, сменах этапа и зоны здоровья и переходах между сегментами.
webhook-url = URL адреса
webhook-events = События
webhook-format = Формат
webhook-format-standard = Standard Webhooks (подписанные события JSON)
webhook-format-slack = входящий вебхук, совместимый со Slack (текст)
webhook-state = Состояние
webhook-ok = принимает
webhook-disabled = отключён
webhook-failing-since = ошибки с { $since }
webhook-create = Добавить адрес
webhook-rotate = Сменить секрет
webhook-rotate-confirm = Создать новый секрет подписи? 24 часа доставки подписываются и старым, и новым.
webhook-secret-overlap = 24 часа каждая доставка подписана и старым, и новым секретом, чтобы получатель перешёл на новый, ничего не потеряв.
webhook-test = Отправить тестовое событие
webhook-delete = Удалить
webhook-delete-confirm = Удалить этот адрес? Его отправки удалятся вместе с ним.
webhook-deleted = Адрес удалён.
webhook-enable = Включить снова
webhook-enabled = Адрес снова включён: новые события до него доходят. Доставки, не дошедшие, пока он был выключен, можно повторить в разделе «Доставки».
webhook-test-queued = Тестовое событие отправляется.
webhook-secret-once = Это секрет подписи адреса. Скопируйте его сейчас: он показывается только один раз.
deliveries-help = Всё, что отправляет Keepwell, сначала новое: что это было, куда ушло и чем закончилась каждая попытка. Недоставленное можно отправить снова.
deliveries-all = Все
deliveries-empty = Пока ничего не отправлено. Отправки появятся здесь, когда будет подписан адрес и произойдут его события.
delivery-queued = в очереди
delivery-sending = отправляется
delivery-sent = доставлено
delivery-retrying = повтор
delivery-dead = не доставлено
delivery-event = Событие
delivery-recipient = Куда
delivery-status = Статус
delivery-attempts = Попытки
delivery-detail = Итог
delivery-next = следующая попытка { $at }
delivery-retry = Отправить снова
delivery-requeued = Отправка снова в очереди.
delivery-title = Доставка { $id }
delivery-attempt-at = Когда
delivery-answer = Ответ
delivery-duration = Заняло
delivery-error = Ошибка
delivery-no-attempts = Попыток ещё не было.
delivery-message-id = Идентификатор сообщения
delivery-back = Все доставки
delivery-duration-ms = { $ms } мс
entity-webhook_endpoint = Адреса вебхуков
entity-delivery = Отправки
action-webhook_endpoint-create = Адрес вебхука добавлен
action-webhook_endpoint-enable = Адрес вебхука включён снова
action-webhook_endpoint-delete = Адрес вебхука удалён
action-delivery-retry = Отправка повторена

## E-mail
band-none = без зоны
email-hello = Здравствуйте, { $name }!
email-band-subject = { $count ->
    [1] { $name }: теперь { $band }
    [one] { $count } ваш аккаунт сменил зону здоровья
    [few] { $count } ваших аккаунта сменили зону здоровья
   *[other] { $count } ваших аккаунтов сменили зону здоровья
}
email-band-intro = { $count ->
    [1] { $day } один из ваших аккаунтов сменил зону здоровья:
    [one] { $day } { $count } ваш аккаунт сменил зону здоровья:
    [few] { $day } { $count } ваших аккаунта сменили зону здоровья:
   *[other] { $day } { $count } ваших аккаунтов сменили зону здоровья:
}
email-disabled-subject = Вебхуки на { $url } выключены
email-disabled-intro = Сутки ни одна доставка на { $url } не прошла, и Keepwell перестал туда отправлять. Последний ответ:
email-disabled-what = Туда ничего не отправляется, пока администратор не включит адрес снова в разделе «Настройки → Вебхуки»; недошедшие доставки затем можно повторить в разделе «Настройки → Доставки».
email-digest-subject = Ваши аккаунты на этой неделе ({ $week }): красных { $red }, жёлтых { $yellow }, зелёных { $green }
email-digest-intro = { $accounts ->
    [one] На { $day } за вами { $accounts } аккаунт.
    [few] На { $day } за вами { $accounts } аккаунта.
   *[other] На { $day } за вами { $accounts } аккаунтов.
}
email-digest-no-pass = Ежедневный расчёт ещё не оценивал ваши аккаунты, поэтому зон у них нет.
email-digest-bands = Зелёных { $green } · Жёлтых { $yellow } · Красных { $red } · Без оценки { $unscored }
email-digest-changes = Смена зон с { $since }:
email-digest-no-changes = С { $since } ни один аккаунт не сменил зону.
email-digest-no-history = Расчёта недельной давности для сравнения ещё нет.
email-digest-more = …и ещё { $count }.
email-digest-renewals = Продлений контрактов в ближайшие 90 дней: { $count }, ARR { $arr } { $currency }:
email-digest-no-renewals = В ближайшие 90 дней продлений контрактов нет.
email-digest-due = { $day }, через { $days } дн.
email-digest-unconverted = Не вошли в сумму (нет курса валюты): { $count }.
email-digest-open = Открыть мои аккаунты
email-digest-why = Вы получили это письмо, потому что подписались на еженедельную сводку. Отключить её можно на вашей странице: { $base }/me
email-score = оценка { $score }
email-why = Вы получили это письмо, потому что эти аккаунты закреплены за вами в Keepwell. Что присылать, выбирается на вашей странице: { $base }/me
notifications = Уведомления по почте
notifications-band = Письмо раз в день, когда мои аккаунты меняют зону здоровья
notifications-digest = Еженедельная сводка по моим аккаунтам, по понедельникам в 08:00 по моему часовому поясу
notifications-time-zone = Мой часовой пояс
notifications-saved = Настройки уведомлений сохранены.
notifications-no-mail = Этот сервер пока не отправляет почту: администратор задаёт KEEPWELL_SMTP_URL и KEEPWELL_MAIL_FROM.
deliveries-no-mail = На этом сервере не настроена почта, поэтому письма-уведомления не отправляются: они показаны здесь как недоставленные с причиной. Администратор задаёт KEEPWELL_SMTP_URL и KEEPWELL_MAIL_FROM.
interaction-kind-email = Письмо
interaction-kind-call = Звонок
interaction-kind-meeting = Встреча
interaction-kind-note = Заметка
interaction-kind-qbr = QBR
stage-none = без этапа
tl-interaction = { $kind }: { $subject }
tl-task-opened = Открыта задача: { $title }
tl-task-done = Задача выполнена: { $title }
tl-task-cancelled = Задача отменена: { $title }
tl-stage-changed = Этап изменён: { $from } → { $to }
tl-band-changed = Здоровье: { $from } → { $to }
tl-segment-entered = Вошёл в сегмент { $segment }
tl-segment-left = Вышел из сегмента { $segment }
tl-sentiment = Записано настроение: { $rating } из 5
tl-override = Оценка здоровья задана вручную: { $score } до { $until }
tl-subscription-started = Подписка { $subscription } начата: { $plan } за { $price }
tl-subscription-changed = Подписка { $subscription } изменена: { $plan } за { $price }
tl-subscription-ended = Подписка { $subscription } на { $plan } закончилась
tl-invoice-paid = Счёт { $invoice } оплачен: { $amount }
tl-invoice-failed = Оплата счёта { $invoice } не прошла: { $amount }
tl-invoice-overdue = Счёт { $invoice } просрочен: { $amount }
tl-usage-first = Первая активность в продукте
tl-usage-quiet = Нет активности в продукте { $days } дней
tl-usage-back = Активность в продукте снова, после { $days } дней
tl-delivery-email = Письмо о { $event } для { $recipient }: { $status }
tl-delivery-webhook = Вебхук { $event }: { $status }
nav-home = Главная
nav-tasks = Задачи
nav-notifications = Уведомления
choose = Выберите…
tasks = Задачи
task-kind = Тип
task-kind-risk = Риск
task-kind-opportunity = Возможность
task-kind-onboarding = Онбординг
task-kind-renewal = Продление
task-kind-other = Другое
task-priority = Приоритет
task-priority-low = Низкий
task-priority-normal = Обычный
task-priority-high = Высокий
task-priority-urgent = Срочный
task-status = Статус
task-status-open = Открыта
task-status-done = Выполнена
task-status-cancelled = Отменена
task-title = Задача
task-due = Срок
task-due-on = срок { $day }
task-no-due = без срока
task-overdue = Просрочена
task-snoozed-until = отложена до { $day }
task-snooze = Отложить
task-snooze-until = Отложить до
task-complete = Выполнено
task-cancel = Отменить задачу
task-reopen = Открыть снова
task-reassign = Передать
task-closed = Закрыта
task-source = Открыта для
task-new = Новая задача
task-open = Открыть задачу
task-owner-default = Владелец аккаунта
task-comments = Комментарии
task-no-comments = Комментариев пока нет.
task-comment = Комментарий
task-comment-add = Добавить комментарий
task-opened = Задача открыта: { $title }
task-now-done = Выполнено: { $title }
task-now-cancelled = Отменено: { $title }
task-now-open = Открыта снова: { $title }
task-snoozed = Отложено: { $title }
task-assigned = Передана новому владельцу: { $title }
task-commented = Комментарий добавлен.
tasks-counts = Срок до воскресенья: { $due }, из них просрочено: { $overdue }
tasks-mine = Мои
tasks-everyone = Все
tasks-any = Любой
tasks-any-due = Любой срок
tasks-due-overdue = Просроченные
tasks-due-today = Сегодня
tasks-due-week = На этой неделе
tasks-due-now = Просроченные и на этой неделе
tasks-due-none = Без срока
tasks-none = Подходящих задач нет. Задачи появляются здесь, когда вы или автоматизация открываете их по аккаунту; измените фильтры, чтобы увидеть другие.
tasks-none-account = Открытых задач по этому аккаунту нет.
interactions = Взаимодействия
interaction-kind = Тип
interaction-when = Когда (UTC; пусто — сейчас)
interaction-subject = Тема (пусто — первая строка заметок)
interaction-body = Заметки (Markdown)
interaction-contacts = С их стороны
interaction-members = С нашей стороны
interaction-log = Записать звонок, встречу, письмо или заметку
interaction-save = Записать
interaction-logged = Записано: { $subject }
interaction-deleted = Удалено: { $subject }
interaction-bad-time = Время должно быть датой и временем, например 2026-12-01T14:30.
interaction-delete-confirm = Удалить это взаимодействие?
interactions-none = Пока ничего не записано. Записывайте здесь звонки, встречи и заметки; оценка здоровья учитывает дни с последнего.
timeline-all = Всё
timeline-kind-interaction = Взаимодействия
timeline-kind-task = Задачи
timeline-kind-stage = Этапы
timeline-kind-health = Здоровье
timeline-kind-segment = Сегменты
timeline-kind-sentiment = Настроение
timeline-kind-override = Ручные оценки
timeline-kind-subscription = Подписки
timeline-kind-invoice = Счета
timeline-kind-usage = Использование
timeline-kind-delivery = Отправленные сообщения
timeline-older = Раньше
timeline-empty = С этим аккаунтом пока ничего не происходило.
home-title = Мои аккаунты
home-book-of = Аккаунты: { $name }
home-everyone = Все аккаунты
home-as-of = На { $day }
home-whose = Чьи аккаунты
home-accounts = Аккаунты
home-tasks = Задачи со сроком
home-no-tasks = На этой неделе сроков нет.
home-changes = Изменения здоровья за неделю
home-renewals = Продления контрактов в ближайшие 90 дней
home-quiet = Затихли: нет активности в продукте { $days } дней
home-last-seen = последняя активность { $at }
home-none-quiet = Все клиентские аккаунты были активны за последние 14 дней.
notifications-read-all = Отметить все прочитанными
notifications-none = Уведомлений нет. Здесь вы узнаёте, когда вам передают задачу или ваш аккаунт меняет зону здоровья.
notification-task = Вам передана задача: { $title } ({ $by })
notification-band = { $account }: { $from } → { $to }
notification-open = Открыть
notification-mark-read = Прочитано
interaction-edit = Изменить взаимодействие
interaction-saved = Сохранено: { $subject }

# Playbooks
nav-playbooks = Сценарии
field-day = День
playbooks-intro = Сценарий каждый день следит за всеми клиентами и действует, когда его условие запуска держится заданное число дней: задача ответственному, метка. Проверьте его на последних 90 днях, прежде чем включить.
playbooks-empty-title = Сценариев пока нет
playbooks-empty-body = Создайте сценарий ниже или кодом:
playbook-new = Новый сценарий
playbook-trigger = Запуск
playbook-state = Состояние
playbook-version = Версия
playbook-on = Включён
playbook-off = Выключен
playbook-when = Когда
playbook-then = Тогда
playbook-kind-measure = Показатель карты оценки в зоне
playbook-kind-health = Зона здоровья
playbook-kind-condition = Выполняется условие
playbook-measure = Ключ показателя (для показателя)
playbook-band = Зона
playbook-trigger-condition-label = Условие (для «выполняется условие»)
playbook-trigger-interaction = по клиенту записано взаимодействие
playbook-trigger-event = клиенту пришло событие использования «{ $what }»
playbook-kind-segment = Клиент входит в сегмент
playbook-kind-stage = Клиент на этапе жизненного цикла
playbook-segment = Сегмент (для «входит в сегмент»)
playbook-stage = Этап (для «на этапе жизненного цикла»)
playbook-trigger-segment = в сегменте { $what } { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
playbook-trigger-stage = на этапе «{ $what }» { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
playbook-days = Столько дней подряд
playbook-condition = Только если (необязательно)
playbook-task-title = Задача ответственному
playbook-task-kind = Тип задачи
playbook-due-days = Срок в днях (необязательно)
playbook-close-after = Закрыть задачу, когда условие не держится столько дней (необязательно)
playbook-saved-off = Новый сценарий сохраняется выключенным: проверьте его симуляцией, затем включите.
playbook-saved = Сценарий сохранён.
playbook-drafted = Сохранено как черновик: действующая версия работает, пока вы его не опубликуете.
playbook-draft = Черновик
playbook-draft-intro = Правка ещё не действует: версия { $version } работает, пока черновик не опубликован. Запуски сохраняют версию, с которой начались.
playbook-simulate-draft = Смоделировать черновик за последние 90 дней
playbook-publish = Опубликовать как версию { $version }
playbook-discard = Удалить черновик
playbook-published = Черновик опубликован: теперь это действующая версия.
playbook-draft-discarded = Черновик удалён.
playbook-enabled = Сценарий включён.
playbook-disabled = Сценарий выключен.
playbook-choose-enrol = Выберите, включать ли клиентов, которые уже подходят.
playbook-choose-tasks = Выберите, что делать с его открытыми задачами.
playbook-trigger-measure = { $what } { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
playbook-trigger-health = зона { $what } { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
playbook-trigger-condition = { $what } { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
playbook-action-task = задача «{ $title }» ({ $kind }) ответственному
playbook-due-in = срок { $days ->
    [0] в тот же день
    [one] через { $days } день
    [few] через { $days } дня
   *[other] через { $days } дней
}
playbook-action-tag = метка «{ $tag }»
playbook-action-untag = снять метку «{ $tag }»
playbook-switched = Последнее переключение
playbook-choice-existing = Включить клиентов, которые уже подходят
playbook-choice-new = Учитывать только новые случаи
playbook-choice-keep = Оставить его открытые задачи
playbook-choice-close = Закрыть его открытые задачи
playbook-turn-on = Включить
playbook-turn-off = Выключить
playbook-enrol = Клиенты, которые уже подходят
playbook-open-tasks = Его открытые задачи
playbook-preview-hint = При включении сценарий сначала проходит по всем клиентам за последние недели.
playbook-preview = Посчитать, что он сделает сегодня
playbook-will-act = сегодня { $n ->
    [0] не сработает ни для одного клиента
    [one] сработает для { $n } клиента
   *[other] сработает для { $n } клиентов
} (задач: { $tasks })
playbook-will-act-new = сегодня { $n ->
    [0] не сработает ни для одного клиента
    [one] сработает для { $n } клиента
   *[other] сработает для { $n } клиентов
}
playbook-simulation = Что он сделал бы за последние 90 дней
playbook-simulation-hint = Прогоняет сценарий по последним 90 дням, как если бы он тогда был включён: каждое действие, для какого клиента, в какой день и почему. Ничего не выполняется.
playbook-simulate = Симулировать 90 дней
playbook-simulated = Действий за 90 дней: { $n }.
playbook-simulated-none = За последние 90 дней он бы не сработал.
playbook-why = Почему
playbook-cleared = условие ушло: закрыть его открытые задачи
playbook-runs = Срабатывания
playbook-runs-none = Он ещё не срабатывал.
playbook-outcome = Итог
playbook-due-on = срок { $day }
playbook-why-score = оценка { $score } ({ $band })
playbook-why-segment = в сегменте { $segment }
playbook-why-stage = на этапе «{ $stage }»
playbook-why-event = { $n } × { $event }
playbook-why-manual = запущен вручную: { $by }
playbook-why-interaction = записано взаимодействие
playbook-why-held = { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
} подряд
notification-playbook = { $title } (сценарий «{ $playbook }»)
playbook-action-notify = сообщить ответственному: «{ $message }»
playbook-action-notify-email = сообщить ответственному в приложении и по почте: «{ $message }»
playbook-action-assign = назначить ответственным { $member }
playbook-action-stage = перевести на этап «{ $stage }» (если клиента не держит правило жизненного цикла)
playbook-action-webhook = вызвать вебхук { $url }
email-playbook-subject = { $account }: { $message }
email-playbook-intro = Сценарий «{ $playbook }» сработал для { $account } { $day }.
email-playbook-open = Открыть клиента
playbook-action-wait = подождать { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[other] { $days } дней
}
playbook-action-branch = если { $condition }: { $then }{ $otherwise ->
    [none] {""}
   *[other] ; иначе: { $otherwise }
}
playbook-branch-held = { $condition } выполнено: шаги «то»
playbook-branch-not-held = { $condition } не выполнено: шаги «иначе»
playbook-wait-until = затем ждать до { $day }
playbook-waiting-until = ждёт до { $day }
playbook-nothing = ничего
playbook-action-start = запустить сценарий «{ $playbook }»
playbook-why-started = запущен сценарием { $playbook }
playbook-action-assign-turn = назначить ответственным следующего по очереди из { $members }
playbook-action-assign-rules = назначить ответственным по первому выполненному правилу: { $rules }
playbook-trigger-left-segment = выходит из сегмента { $what }
playbook-trigger-schedule = по расписанию: { $what }
playbook-why-left-segment = вышел из сегмента { $segment }
playbook-every-day = каждый день
playbook-every-month = первого числа каждого месяца
playbook-every-monday = каждый понедельник
playbook-every-tuesday = каждый вторник
playbook-every-wednesday = каждую среду
playbook-every-thursday = каждый четверг
playbook-every-friday = каждую пятницу
playbook-every-saturday = каждую субботу
playbook-every-sunday = каждое воскресенье
playbook-kind-left-segment = Клиент выходит из сегмента
playbook-kind-schedule = По расписанию (клиентов выбирает условие)
playbook-every = Расписание
playbook-action-email-owner = письмо ответственному: «{ $subject }»
playbook-action-email-contacts = письмо контактам: «{ $subject }»
email-unsubscribe = Отписаться от этих писем
unsubscribe-title = Отписка
unsubscribe-ask = Больше не присылать письма на { $email } от этой команды?
unsubscribe-button = Отписаться
unsubscribe-done = { $email } отписан: такие письма больше не придут.
unsubscribe-invalid = Эта ссылка для отписки недействительна. Воспользуйтесь ссылкой из недавнего письма.
playbook-trigger-no-event = нет использования { $days } дн.
playbook-trigger-no-named-event = нет события «{ $what }» { $days } дн.
playbook-trigger-no-interaction = нет взаимодействий { $days } дн.
playbook-why-no-event = тишина { $days } дн.
playbook-why-no-interaction = нет взаимодействий { $days } дн.
playbook-kind-no-event = Нет событий использования (или события с данным именем) несколько дней
playbook-kind-no-interaction = Нет записанных взаимодействий несколько дней
playbook-event = Событие (имя события использования или тип события Stripe, например invoice.payment_failed)
playbook-event-any = любое событие
playbook-kind-event = Клиенту пришло событие использования
playbook-kind-interaction = Записано взаимодействие
playbook-kind-stripe-event = Из Stripe пришло событие по клиенту
playbook-trigger-stripe-event = Stripe присылает «{ $what }» по клиенту
playbook-why-stripe-event = Stripe прислал { $event }
playbook-trigger-if = { $trigger }, если { $condition }

# Список аккаунтов (issue 19)
accounts-export = Выгрузить CSV
accounts-export-hint = Все аккаунты по фильтру — в формате, который снова читает keepwell import accounts
accounts-columns = Столбцы
accounts-columns-apply = Показать эти столбцы
accounts-never-active = никогда
column-name = Название
column-health = Здоровье
column-coverage = Покрытие
column-mrr = MRR
column-arr = ARR
column-renews_on = Продление
column-last_active_on = Последняя активность
column-owner = Ответственный
column-lifecycle_stage = Этап
column-country = Страна
column-plan = Тариф
column-employees = Сотрудники
column-tags = Теги
in-days = { $n ->
    [0] сегодня
    [one] через { $n } день
    [few] через { $n } дня
    [many] через { $n } дней
   *[other] через { $n } дня
}
days-ago = { $n ->
    [0] сегодня
    [1] вчера
    [one] { $n } день назад
    [few] { $n } дня назад
    [many] { $n } дней назад
   *[other] { $n } дня назад
}
param-q = Поиск
param-owner = Ответственный
param-stage = Этап
param-tag = Тег
param-country = Страна
param-band = Здоровье
param-sort = Сортировка
param-limit = Размер страницы
param-cursor = Страница
bulk-title = Действие с выбранными аккаунтами
bulk-select-page = Выбрать все аккаунты на странице
bulk-all = { $count ->
    [one] все { $count } аккаунт по фильтру, а не только выбранные
    [few] все { $count } аккаунта по фильтру, а не только выбранные
    [many] все { $count } аккаунтов по фильтру, а не только выбранные
   *[other] все { $count } аккаунта по фильтру, а не только выбранные
}
bulk-choose = Выберите…
bulk-choose-member = Выберите сотрудника…
bulk-action-tag = Добавить тег
bulk-action-owner = Назначить ответственного
bulk-action-task = Создать задачу
bulk-apply = Применить
bulk-field-action = Действие
bulk-field-tag = Тег
bulk-field-owner_id = Ответственный
bulk-field-title = Название задачи
bulk-field-kind = Тип
bulk-field-due_on = Срок
bulk-field-ids = Аккаунты
bulk-field-all = Все по фильтру
bulk-field-account_id = Аккаунт
bulk-field-source = Источник
bulk-field-priority = Приоритет
bulk-field- = Ввод
bulk-no-action = Выберите, что сделать с аккаунтами.
bulk-no-owner = Выберите сотрудника, который станет ответственным.
bulk-forbidden = Вашей роли это недоступно: обратитесь к руководителю.
bulk-failed = Ничего не изменено. { $reason }
bulk-done = { $matched ->
    [one] Готово: изменено { $changed } из { $matched } аккаунта.
   *[other] Готово: изменено { $changed } из { $matched } аккаунтов.
}
bulk-unchanged = Уже были такими: { $count }.
bulk-refused = Не изменены, так как вам недоступны: { $count }.
accounts-no-rate = нет курса
accounts-no-rate-hint = Нет курса { $currency } за этот или прошлые месяцы: добавьте его в разделе «Выручка», чтобы аккаунт сортировался по MRR вместе с остальными.

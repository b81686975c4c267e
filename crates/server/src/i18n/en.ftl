# Keepwell — English
nav-accounts = Accounts
nav-contacts = Contacts
nav-team = Team
nav-api = API & keys
nav-audit = Audit log
nav-logout = Log out
language = Language
apply = Apply
search = Search
save = Save
cancel = Cancel
edit = Edit
delete = Delete
created = Created
updated = Updated
status = Status
status-active = Active
status-disabled = Disabled
sort = Sort
back-home = Back to accounts
login-title = Log in
login-intro = Log in to your customer success workspace.
login-submit = Log in
login-failed = Wrong e-mail or password.
login-too-many = Too many failed attempts. Wait 15 minutes and try again.
login-logged-out = You are logged out.
field-name = Name
field-email = E-mail
field-password = Password
field-domain = Domain
field-industry = Industry
field-employees = Employees
field-country = Country
field-plan = Plan
field-lifecycle_stage = Stage
field-owner = Owner
field-tags = Tags
field-external_ids = External ids
field-attributes = Custom attributes
field-account = Account
field-title = Title
field-role = Role
field-locale = Language
field-external_user_ids = Product user ids
field-required = This field is required.
hint-country = Two letters: DE, US, FR…
hint-tags = Separate with commas.
hint-external-ids = One per line as kind: value — for example crm: 0015g00000ABC or stripe: cus_123.
hint-attributes = One per line as name = value. Numbers, dates (YYYY-MM-DD) and true/false keep their type.
form-has-errors = Some fields need attention; see the messages below them.
accounts-count = { $count ->
    [one] { $count } account
   *[other] { $count } accounts
}
accounts-search = Search by name or domain
accounts-by-stage = Accounts by stage
accounts-none-match = No account matches these filters.
accounts-empty-title = No accounts yet
accounts-empty-body = Create your first account here, or import your book of business from a CRM export:
filters-clear = Clear filters
filter-any-owner = Any owner
filter-mine = My accounts
filter-no-owner = No owner
filter-any-stage = Any stage
filter-any-tag = Any tag
filter-any-country = Any country
page-first = ← First page
page-next = Next page →
account-new = New account
account-edit = Edit account
account-profile = Profile
account-created = Account { $name } created.
account-saved = Account { $name } saved.
account-deleted = Account { $name } deleted.
account-delete-confirm = Delete this account with its contacts? This cannot be undone.
external-ids-none = No external ids. Add the CRM, billing or product id to link data to this account.
attributes-none = No custom attributes.
contact-new = Add contact
contact-edit = Edit contact
contact-saved = Contact { $email } saved.
contact-deleted = Contact { $email } deleted.
contact-delete-confirm = Delete this contact?
contacts-search = Search by e-mail or name
contacts-empty = No contacts yet. Add them from an account's page, or import them:
contacts-empty-account = No contacts yet. Add the champion and the decision maker first.
timeline = Timeline
timeline-more = Subscriptions, product usage, tickets and conversations will appear here as they arrive.
stage-onboarding = Onboarding
stage-adoption = Adoption
stage-value = Value
stage-expansion = Expansion
stage-advocacy = Advocacy
stage-renewal = Renewal
stage-churned = Churned
role-admin = Admin
role-manager = Manager
role-csm = CSM
role-viewer = Viewer
contact-role-champion = Champion
contact-role-decision_maker = Decision maker
contact-role-user = User
contact-role-billing = Billing
type-text = text
type-number = number
type-date = date
type-bool = yes/no
team-add = Add member
team-created = { $name } can now log in.
team-password-once = Their password is shown only now. Send it to them over a safe channel; they can change it on their page.
team-saved = { $name } updated.
team-tokens-stopped = Their API tokens stopped: { $tokens }.
team-last-admin = This is the last active admin: make another member admin first.
team-disable = Disable
team-enable = Enable
team-not-yourself = You cannot disable or demote yourself; ask another admin.
team-roles-help = Viewers read everything. CSMs edit the accounts they own. Managers edit every account. Admins also manage the team, tokens and keys.
tokens = API tokens
tokens-help = Tokens let scripts use the REST API with the role you choose. Send them as Authorization: Bearer TOKEN. A token acts for the member who made it, with the lower of its role and theirs: a member demoted or disabled takes their tokens down with them.
token-made-as = made as { $role }
token-inactive = stopped (its member is disabled or gone)
tokens-empty = No tokens yet.
token-create = Create token
token-revoked = Token revoked.
writekeys = Ingestion write keys
writekeys-help = Write keys let your product send usage events (Segment-compatible). They can do nothing else.
writekeys-empty = No write keys yet.
writekey-create = Create write key
key-revoked = Write key revoked.
secret-once = Copy it now: it is shown only once.
prefix = Starts with
last-used = Last used
revoke = Revoke
revoked = Revoked
revoke-confirm = Revoke it? Anything using it stops working at once.
audit-entity = Kind
audit-all = Everything
audit-when = When
audit-who = Who
audit-what = What
audit-changes = Changes
audit-empty = Nothing has changed yet.
entity-account = Accounts
entity-contact = Contacts
entity-user = Team
entity-api_token = API tokens
entity-write_key = Write keys
action-account-create = Account created
action-account-update = Account changed
action-account-delete = Account deleted
action-account-import = Accounts imported
action-contact-create = Contact created
action-contact-update = Contact changed
action-contact-delete = Contact deleted
action-contact-import = Contacts imported
action-user-create = Member added
action-user-update = Member changed
action-user-password = Password changed
action-token-create = Token created
action-token-revoke = Token revoked
action-writekey-create = Write key created
action-writekey-revoke = Write key revoked
password-change = Change password
password-current = Current password
password-new = New password (12 characters or more)
password-confirm = New password again
password-wrong = The current password is wrong.
password-mismatch = The two new passwords differ.
password-changed = Password changed. Your other sessions were ended.
sessions = Sessions
sessions-device = Browser
sessions-this = This session
sessions-end = End
session-ended = Session ended.
error-not-found = There is nothing here. It may have been deleted.
error-forbidden = Your role does not allow this. Ask an admin if you need it.
error-csrf = This form expired. Go back, reload the page and try again.
error-too-large = That was too much data for one form.
error-internal = Something went wrong on our side. It has been logged; try again in a moment.
error-busy = The server is busy right now. Try again in a few seconds.
error-bad-request = This address carries something the page cannot read; go back and try again.

## Revenue
nav-revenue = Revenue
nav-renewals = Renewals
revenue-from = From
revenue-to = To
revenue-plan = Plan
revenue-all-plans = All plans
revenue-all-countries = All countries
revenue-all-industries = All industries
revenue-all-owners = All owners
revenue-empty = No billing yet. Import subscriptions (keepwell import subscriptions FILE), post them to /api/v1/accounts/ID/subscriptions, or point a Stripe webhook at /webhooks/stripe.
revenue-paying = paying accounts
revenue-mrr-chart = MRR at each month end
revenue-net-chart = Net new MRR per month
revenue-cohort = Start month
revenue-months-since = Accounts still paying, by months since start
revenue-no-cohorts = No account started paying in this range.
revenue-today = Today, { $day }
revenue-at-month-end = At the end of { $month }
revenue-projected = Projected at the end of { $month }, from the billing known today: { $mrr } { $currency } MRR.
revenue-renewal-rates-count = Contract renewals only (terms of { $months } months or more); month-to-month plans renew by themselves and show in churn.
metric-mrr = MRR, ARR and ARPA
metric-mrr_movements = MRR movements
metric-customer_churn = Customer churn
metric-revenue_churn = Revenue churn
metric-retention = Retention
metric-nrr = Net revenue retention
metric-grr = Gross revenue retention
metric-clv = Customer lifetime value
metric-cohorts = Cohorts by start month
metric-renewal-rates = Renewal rates
renewals-window = Window
renewals-next-days = Next { $days } days
renewals-mine = Mine
renewals-status = Status
renewals-status-all = All
renewals-status-pending = Undecided
renewals-status-decided = Decided
renewals-forecast = Forecast
renewals-forecast-rate = forecast at the last 12 months' net renewal rate, { $rate } %
renewals-due = Due
renewals-in-days = in { $days } days
renewals-outcome = Outcome
renewals-new-arr = New ARR
renewals-reason = Reason
renewals-record = Record
renewals-empty = No renewals due in this window. Renewals appear for every subscription period with a renewal or end date.
renewals-terms = Terms
renewals-terms-contract = Contract renewals (terms of { $months }+ months)
renewals-terms-monthly = Month-to-month renewals
renewals-terms-all = All renewals
renewals-term = { $months }-month term
renewals-at-latest-rate = { $count ->
    [one] One of them is converted at the latest FX rate known today, its due month having none yet (the amount's tooltip names the month).
   *[other] { $count } of them are converted at the latest FX rate known today, their due months having none yet (the amount's tooltip names the month).
}
renewals-unconverted = { $count ->
    [one] One renewal is in a currency with no FX rate to { $currency } at all and is left out of the totals: add rates with keepwell import fx_rates or POST /api/v1/fx-rates.
   *[other] { $count } renewals are in currencies with no FX rate to { $currency } at all and are left out of the totals: add rates with keepwell import fx_rates or POST /api/v1/fx-rates.
}
renewals-also-monthly = { $count ->
    [one] Besides these, one month-to-month subscription renews by itself in this window ({ $arr } { $currency } ARR); it is watched through churn, not worked as a renewal.
   *[other] Besides these, { $count } month-to-month subscriptions renew by themselves in this window ({ $arr } { $currency } ARR); they are watched through churn, not worked as renewals.
}
renewals-also-contract = { $count ->
    [one] Besides these, one contract renewal is due in this window ({ $arr } { $currency } ARR).
   *[other] Besides these, { $count } contract renewals are due in this window ({ $arr } { $currency } ARR).
}
renewals-show = Show them
renewals-rate-of = converted at the { $month } FX rate
renewals-no-rate = no FX rate
renewals-scheduled-churn = Scheduled to churn on { $day }, still saveable
renewal-recorded = Outcome recorded for { $account }.
renewal-not-yours = Only the account's owner or a manager can record this renewal.
outcome-renewed = Renewed
outcome-renewed_with_upsell = Renewed with upsell
outcome-renewed_with_downsell = Renewed with downsell
outcome-churned = Churned
billing = Billing
billing-seats = Seats
billing-contract-value = Contract value
billing-terms = Payment terms
billing-tenure = Customer for
billing-days = { $days } days
billing-renewal = Next renewal
billing-mrr-history = MRR by month
billing-invoice = Invoice
billing-issued = Issued
billing-due = Due
billing-amount = Amount
billing-status = Status
billing-overdue = overdue { $days } d
billing-empty = No subscriptions or invoices for this account yet.

nav-usage = Usage
usage = Product usage
usage-explore = Explore events
usage-empty = No product events yet. Create a write key and point Segment (or any Segment library) at this server's /v1 endpoints, or import history with `keepwell import events FILE`.
usage-empty-keys = Create a write key
usage-empty-account = No product usage for this account yet. Events arrive through a write key (Settings → API access) once its users are grouped into it (Segment's group call with one of its external ids of kind segment).
usage-window = Window
usage-last-days = Last { $days } days
usage-least = Least active accounts
usage-most = Most active accounts
usage-active-users = Active users
usage-events = Events
usage-users = Users
usage-last-seen = Last seen
usage-none-in-window = No usage in this window.
usage-events-title = Events
usage-account-id = Account id
usage-account = Account
usage-user = User
usage-event = Event
usage-from = From
usage-to = To
usage-clear = Clear filters
usage-time = Time (UTC)
usage-type = Type
usage-properties = Properties
usage-older = Older events →
usage-events-none-match = No events match these filters.
usage-dau-wau-mau = Active users: day / week / 30 days
usage-license = License utilisation
usage-of-seats = { $active } of { $seats } seats
usage-no-seats = no seats in force
usage-adoption = Feature adoption
usage-features-used = { $used } of { $total } features
usage-no-features = no plan features configured
usage-events-30 = Events, last 30 days
usage-vs-previous = vs { $n } the 30 days before
usage-active-chart = Active users per day
usage-top-events = Top events, last 30 days
usage-features = Features of its plan
usage-people = Its people's last activity
features-title = Plan features
features-help = Which events count as using which feature, per plan. One feature per line: "plan: feature = Event name, page:Page name". Feature adoption is the share of its plan's features an account used in the last 30 days.
features-saved = Plan features saved.
usage-include = Accounts
usage-include-customers = Current customers
usage-include-all = All accounts
nav-segments = Segments
nav-health = Health
health = Health
filter-any-band = Any health
band-red = Red
band-yellow = Yellow
band-green = Green
band-unscored = Unscored
health-churned = No revenue left: a churned account is not scored.
health-unscored = Too little data for a score: { $coverage } % of the measures' weight has data; this scorecard needs { $min } %.
health-coverage = The score rests on { $coverage } % of the measures' weight.
health-coverage-raise = Data for { $measures } would raise it.
band-churned = Churned
health-overridden = overridden by hand
health-scored-by = scored with { $name }
health-since = since { $days } days ago
health-override-note = Overridden to { $score } by { $author }: “{ $reason }” until { $expires }. Computed score: { $computed }.
health-override-clear = End the override
health-no-data = No measure has data for this account yet.
health-no-scorecard = No scorecard applies: add a default scorecard.
health-measure = Measure
health-value = Value
health-measure-score = Score
health-weight = Weight
health-contribution = Points
health-not-applicable = not applicable
health-missing = no data
health-history = Health score history
health-days = { $n } days
health-sentiment = CSM sentiment
health-sentiment-none = Nobody has rated this account yet.
health-rating = Rating
health-rating-1 = very unhappy
health-rating-2 = unhappy
health-rating-3 = neutral
health-rating-4 = happy
health-rating-5 = very happy
health-reason = Reason
health-sentiment-add = Add rating
health-sentiment-saved = Sentiment recorded.
health-override = Override the score
health-score = Score
health-expires = Until
health-override-set = Override
health-override-saved = Score overridden.
health-override-cleared = Override ended.
health-stages = Lifecycle stages
health-stages-none = No stage changes yet.
segment-filter = Filter
definition-skipped = The daily pass skips this definition until it is fixed:
segment-members = Members
segments-empty-title = No segments yet
segments-empty-body = A segment is a saved filter, kept up to date every day with who entered and left. Write one below, or as code:
segment-new = New segment
segment-key = Key
segment-live-hint = Type a filter to see how many accounts it holds.
segment-language-hint = Fields: plan, country, industry, employees, stage, mrr, arr, tenure_days, days_to_renewal, health, band, tags, attribute.NAME; functions such as active_users(30) and license_utilization(); =, !=, <, <=, >, >=, in [..], contains, and, or, not, ( ).
segment-accounts = accounts
segment-saved = Segment saved; its members are up to date.
segment-deleted = Segment deleted.
segment-delete-confirm = Delete this segment and its history?
segment-since = since { $day }
segment-more = and { $n } more (see the API for all)
segment-no-members = No account is in this segment today.
segment-history = Who entered and left (90 days)
segment-entered = entered
segment-left = left
segment-history-none = Nobody entered or left in the last 90 days.
scorecards = Scorecards
scorecard-new = New scorecard
scorecards-intro = An account is scored with the onboarding scorecard while it is young, else the first scorecard of a segment it is in, else the default. Each measure maps its value to 0–100; the score is the weighted mean of the measures that apply.
scorecard-scores = Scores
scorecard-priority = Priority
scorecard-measures = Measures
scorecard-revision = Revision
scorecard-for-segment = members of { $segment }
scorecard-for-onboarding = accounts in their first { $days } days
scorecard-default = everyone else (default)
scorecard-editor-hint = The scorecard as code, in the format `keepwell apply` reads. Saving checks all of it and raises the revision; past snapshots keep the revision they were scored with.
scorecard-one = The editor holds exactly one [[scorecard]].
scorecard-saved = Scorecard saved; today's scores are up to date.
backtest = Backtest
backtest-horizon = Churn within (days)
from = From
to = To
backtest-intro = How well the score predicted churn (MRR to zero) within { $days } days, for every account-day from { $from } to { $to }.
backtest-no-churn = No account churned in this period, so there is nothing to predict: choose a longer period.
backtest-auc = ROC AUC (0.5 = chance, 1 = perfect)
backtest-account-days = Account-days
backtest-step = every { $n }th day
backtest-churned = Churned within the horizon
backtest-red-lift = Lift of the red band
backtest-roc = ROC curve
backtest-band = Band
backtest-churn-rate = Churn rate, %
backtest-churn-by-band = Churn rate by band, %
backtest-measures = Each measure on its own
backtest-observations = Account-days with data
backtest-suggested = Suggested weight
backtest-fit = Weights fitted by logistic regression on { $fitted_from } – { $fitted_to }, judged on the later { $held_from } – { $held_to }: AUC { $current } with today's weights, { $suggested } with the suggested ones.
backtest-apply = Apply the suggested weights
backtest-no-fit = Not enough history to fit weights (it needs churn in the earlier part of the period).
backtest-applied = Suggested weights applied: a new revision of the scorecard.
action-segment-create = Segment created
action-segment-update = Segment changed
action-segment-delete = Segment deleted
action-scorecard-create = Scorecard created
action-scorecard-update = Scorecard changed
action-scorecard-delete = Scorecard deleted
action-lifecycle_rule-create = Lifecycle rule created
action-lifecycle_rule-update = Lifecycle rule changed
action-lifecycle_rule-delete = Lifecycle rule deleted
action-sentiment-create = Sentiment recorded
action-health_override-create = Score overridden
action-health_override-clear = Override ended
lifecycle-rules = Lifecycle rules
lifecycle-intro = Each daily pass moves an account to the stage of the first rule (by priority) whose condition holds for it, and records the change with the rule as its cause. Moves by hand are kept while no rule holds.
lifecycle-when = When
lifecycle-moves-to = Moves to
lifecycle-empty = No rules: stages change only by hand.
lifecycle-new = Add or change a rule (by key)
lifecycle-saved = Rule saved; stages are up to date.
lifecycle-deleted = Rule deleted.
lifecycle-delete-confirm = Delete this rule? Stages it set stay.

## Usage waiting for an account
waiting-title = Waiting for an account
waiting-intro = These events reached no account: no account holds their groupId (or two do, and which one is meant is not guessed). They reach it as soon as one holds the id — import the accounts, or link the groupId to an account here. Nothing is dropped meanwhile.
waiting-group = groupId
waiting-user = user { $user }, never grouped
waiting-seen = Seen
waiting-why = Why
waiting-more = More wait: see GET /api/v1/usage/unmatched for all.
waiting-account = Account (any of its ids)
waiting-csv = Or many at once, a line each: group_id,account_external_id
waiting-link = Link
waiting-link-empty = Give a groupId and an account, or paste group_id,account_external_id lines.
waiting-linked = { $events } events reached { $accounts } accounts.
waiting-replay = Rebuild scores of those accounts from { $from } to { $to }
waiting-replayed = Rebuilt { $days } days of { $accounts } accounts.

## Webhooks and deliveries
nav-webhooks = Webhooks
nav-deliveries = Deliveries
webhooks-help = Keepwell posts workspace events to these HTTPS endpoints, signed as the Standard Webhooks specification says: verify them with any of its libraries and the endpoint's secret. An endpoint failing for a day is disabled.
webhooks-empty = No endpoints yet. Add one below to hear of new accounts, stage and band changes and segment moves.
webhook-url = Endpoint URL
webhook-events = Events
webhook-format = Format
webhook-format-standard = Standard Webhooks (signed JSON events)
webhook-format-slack = Slack-compatible incoming webhook (text)
webhook-state = State
webhook-ok = receiving
webhook-disabled = disabled
webhook-failing-since = failing since { $since }
webhook-create = Add endpoint
webhook-rotate = Rotate the secret
webhook-rotate-confirm = Make a new signing secret? For 24 hours deliveries are signed with both the old and the new one.
webhook-secret-overlap = For 24 hours every delivery is signed with both the old and the new secret, so the receiver can switch without losing any.
webhook-test = Send a test event
webhook-delete = Delete
webhook-delete-confirm = Delete this endpoint? Its deliveries go with it.
webhook-deleted = Endpoint deleted.
webhook-enable = Turn back on
webhook-enabled = The endpoint is on again: new events reach it. Deliveries that died while it was off can be retried under Deliveries.
webhook-test-queued = A test event is on its way.
webhook-secret-once = This is the endpoint's signing secret. Copy it now: it is shown only once.
deliveries-help = Everything Keepwell sends, newest first: what it was, where it went, and what came of each attempt. A dead delivery can be sent again.
deliveries-all = All
deliveries-empty = Nothing has been sent yet. Deliveries appear here when an endpoint is subscribed and its events happen.
delivery-queued = queued
delivery-sending = sending
delivery-sent = sent
delivery-retrying = retrying
delivery-dead = dead
delivery-event = Event
delivery-recipient = Sent to
delivery-status = Status
delivery-attempts = Attempts
delivery-detail = Outcome
delivery-next = next attempt { $at }
delivery-retry = Send again
delivery-requeued = The delivery is queued again.
delivery-title = Delivery { $id }
delivery-attempt-at = When
delivery-answer = Answer
delivery-duration = Took
delivery-error = Error
delivery-no-attempts = Not attempted yet.
delivery-message-id = Message id
delivery-back = All deliveries
delivery-duration-ms = { $ms } ms
entity-webhook_endpoint = Webhook endpoints
entity-delivery = Deliveries
action-webhook_endpoint-create = Webhook endpoint added
action-webhook_endpoint-enable = Webhook endpoint turned back on
action-webhook_endpoint-delete = Webhook endpoint deleted
action-delivery-retry = Delivery sent again

## E-mail
band-none = no band
email-hello = Hello { $name },
email-band-subject = { $count ->
    [one] { $name } is now { $band }
   *[other] { $count } of your accounts changed health band
}
email-band-intro = { $count ->
    [one] One of your accounts changed health band on { $day }:
   *[other] { $count } of your accounts changed health band on { $day }:
}
email-disabled-subject = Webhooks to { $url } are switched off
email-disabled-intro = Every delivery to { $url } failed for a day, so Keepwell stopped sending to it. The last answer was:
email-disabled-what = Nothing more is sent there until an admin turns it back on under Settings → Webhooks; the deliveries that did not arrive can then be retried under Settings → Deliveries.
email-digest-subject = Your book this week ({ $week }): { $red } red, { $yellow } yellow, { $green } green
email-digest-intro = { $accounts ->
    [one] Your book as of { $day }: one account.
   *[other] Your book as of { $day }: { $accounts } accounts.
}
email-digest-no-pass = No daily pass has scored your accounts yet, so they have no band.
email-digest-bands = Green { $green } · Yellow { $yellow } · Red { $red } · Unscored { $unscored }
email-digest-changes = Band changes since { $since }:
email-digest-no-changes = No account changed band since { $since }.
email-digest-no-history = There is no pass a week back to compare with yet.
email-digest-more = …and { $count } more.
email-digest-renewals = { $count ->
    [one] One contract renewal in the next 90 days, { $arr } { $currency } ARR:
   *[other] { $count } contract renewals in the next 90 days, { $arr } { $currency } ARR:
}
email-digest-no-renewals = No contract renewals are due in the next 90 days.
email-digest-due = due { $day }, in { $days } days
email-digest-unconverted = { $count } in a currency without an exchange rate are left out of the total.
email-digest-open = Open your accounts
email-digest-why = You receive this because you asked for a weekly digest. Turn it off on your page: { $base }/me
email-score = score { $score }
email-why = You receive this because you own these accounts in Keepwell. Choose what you are told on your page: { $base }/me
notifications = E-mail notifications
notifications-band = A daily e-mail when accounts I own change health band
notifications-digest = A weekly digest of my book, on Monday at 08:00 in my time zone
notifications-time-zone = My time zone
notifications-saved = Notification settings saved.
notifications-no-mail = This server sends no e-mail yet: an operator sets KEEPWELL_SMTP_URL and KEEPWELL_MAIL_FROM.
deliveries-no-mail = E-mail is not set up on this server, so notification e-mails are not sent: they are listed here as dead, saying so. An operator sets KEEPWELL_SMTP_URL and KEEPWELL_MAIL_FROM.
interaction-kind-email = E-mail
interaction-kind-call = Call
interaction-kind-meeting = Meeting
interaction-kind-note = Note
interaction-kind-qbr = QBR
stage-none = no stage
tl-interaction = { $kind }: { $subject }
tl-task-opened = Task opened: { $title }
tl-task-done = Task done: { $title }
tl-task-cancelled = Task cancelled: { $title }
tl-stage-changed = Stage changed from { $from } to { $to }
tl-band-changed = Health went from { $from } to { $to }
tl-segment-entered = Entered the segment { $segment }
tl-segment-left = Left the segment { $segment }
tl-sentiment = Sentiment recorded: { $rating } of 5
tl-override = Health score set by hand to { $score } until { $until }
tl-subscription-started = Subscription { $subscription } started on { $plan } at { $price }
tl-subscription-changed = Subscription { $subscription } changed to { $plan } at { $price }
tl-subscription-ended = Subscription { $subscription } on { $plan } ended
tl-invoice-paid = Invoice { $invoice } paid: { $amount }
tl-invoice-failed = Payment of invoice { $invoice } failed: { $amount }
tl-invoice-overdue = Invoice { $invoice } is overdue: { $amount }
tl-usage-first = First product activity
tl-usage-quiet = No product activity for { $days } days
tl-usage-back = Product activity again after { $days } days
tl-delivery-email = E-mail about { $event } to { $recipient }: { $status }
tl-delivery-webhook = Webhook { $event }: { $status }
nav-home = Home
nav-tasks = Tasks
nav-notifications = Notifications
choose = Choose…
tasks = Tasks
task-kind = Kind
task-kind-risk = Risk
task-kind-opportunity = Opportunity
task-kind-onboarding = Onboarding
task-kind-renewal = Renewal
task-kind-other = Other
task-priority = Priority
task-priority-low = Low
task-priority-normal = Normal
task-priority-high = High
task-priority-urgent = Urgent
task-status = Status
task-status-open = Open
task-status-done = Done
task-status-cancelled = Cancelled
task-title = Task
task-due = Due
task-due-on = due { $day }
task-no-due = no due date
task-overdue = Overdue
task-snoozed-until = snoozed until { $day }
task-snooze = Snooze
task-snooze-until = Snooze until
task-complete = Done
task-cancel = Cancel the task
task-reopen = Reopen
task-reassign = Give to
task-closed = Closed
task-source = Opened for
task-new = New task
task-open = Open the task
task-owner-default = The account's owner
task-comments = Comments
task-no-comments = No comments yet.
task-comment = Comment
task-comment-add = Add the comment
task-opened = Task opened: { $title }
task-now-done = Done: { $title }
task-now-cancelled = Cancelled: { $title }
task-now-open = Reopened: { $title }
task-snoozed = Snoozed: { $title }
task-assigned = Given to its new owner: { $title }
task-commented = Comment added.
tasks-counts = { $due } due by Sunday, { $overdue } of them overdue
tasks-mine = Mine
tasks-everyone = Everyone
tasks-any = Any
tasks-any-due = Any day
tasks-due-overdue = Overdue
tasks-due-today = Today
tasks-due-week = This week
tasks-due-now = Overdue and this week
tasks-due-none = No due date
tasks-none = No tasks match. Tasks appear here when you or an automation open them on an account; change the filters to see others.
tasks-none-account = No open tasks on this account.
interactions = Interactions
interaction-kind = Kind
interaction-when = When (UTC; empty: now)
interaction-subject = Subject (empty: the first line of the notes)
interaction-body = Notes (Markdown)
interaction-contacts = Their side
interaction-members = Our side
interaction-log = Log a call, meeting, e-mail or note
interaction-save = Log it
interaction-logged = Logged: { $subject }
interaction-deleted = Deleted: { $subject }
interaction-bad-time = The time is not a date and time such as 2026-12-01T14:30.
interaction-delete-confirm = Delete this interaction?
interactions-none = Nothing logged yet. Log calls, meetings and notes here; the health score counts the days since the last one.
timeline-all = Everything
timeline-kind-interaction = Interactions
timeline-kind-task = Tasks
timeline-kind-stage = Stages
timeline-kind-health = Health
timeline-kind-segment = Segments
timeline-kind-sentiment = Sentiment
timeline-kind-override = Overrides
timeline-kind-subscription = Subscriptions
timeline-kind-invoice = Invoices
timeline-kind-usage = Usage
timeline-kind-delivery = Messages sent
timeline-older = Older
timeline-empty = Nothing has happened on this account yet.
home-title = My book
home-book-of = { $name }'s book
home-everyone = Everyone's accounts
home-as-of = As of { $day }
home-whose = Whose book
home-accounts = Accounts
home-tasks = Tasks due
home-no-tasks = Nothing is due this week.
home-changes = Health changes this week
home-renewals = Contract renewals in the next 90 days
home-quiet = Gone quiet: no product activity in { $days } days
home-last-seen = last seen { $at }
home-none-quiet = Every customer account was active in the last 14 days.
notifications-read-all = Mark all read
notifications-none = No notifications. You are told here when a task is given to you or an account of yours changes health band.
notification-task = Task given to you: { $title } (by { $by })
notification-band = { $account } went from { $from } to { $to }
notification-open = Open
notification-mark-read = Mark read
interaction-edit = Change the interaction
interaction-saved = Saved: { $subject }

# Playbooks
nav-playbooks = Playbooks
field-day = Day
playbooks-intro = A playbook watches every account each day and acts when its trigger has held for the days you set: a task for the owner, a tag. Try it on the last 90 days before you switch it on.
playbooks-empty-title = No playbooks yet
playbooks-empty-body = Build one below, or as code:
playbook-new = New playbook
playbook-trigger = Trigger
playbook-state = State
playbook-version = Version
playbook-on = On
playbook-off = Off
playbook-when = When
playbook-then = Then
playbook-kind-measure = A measure of the scorecard is in a band
playbook-kind-health = The health band is
playbook-kind-condition = A condition holds
playbook-measure = Measure key (for a measure)
playbook-band = Band
playbook-trigger-condition-label = Condition (for "a condition holds")
playbook-trigger-interaction = an interaction is logged on the account
playbook-trigger-event = the usage event "{ $what }" reaches the account
playbook-kind-segment = The account is in a segment
playbook-kind-stage = The account is in a lifecycle stage
playbook-segment = Segment (for "in a segment")
playbook-stage = Stage (for "in a lifecycle stage")
playbook-trigger-segment = in segment { $what } for { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-trigger-stage = in stage { $what } for { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-days = For this many consecutive days
playbook-condition = Only if (optional)
playbook-task-title = Task for the owner
playbook-task-kind = Kind of task
playbook-due-days = Due in days (optional)
playbook-close-after = Close its task once clear for days (optional)
playbook-saved-off = A new playbook is saved switched off: simulate it, then switch it on.
playbook-saved = Playbook saved.
playbook-drafted = Saved as a draft: the version in force keeps running until you publish it.
playbook-draft = Draft
playbook-draft-intro = An edit not yet in force: version { $version } keeps running until it is published. Runs keep the version they started with.
playbook-simulate-draft = Simulate the draft over the last 90 days
playbook-publish = Publish as version { $version }
playbook-discard = Discard the draft
playbook-published = Draft published: it is the version in force.
playbook-draft-discarded = Draft discarded.
playbook-enabled = Playbook switched on.
playbook-disabled = Playbook switched off.
playbook-choose-enrol = Choose whether accounts that already match are enrolled.
playbook-choose-tasks = Choose what happens to its open tasks.
playbook-trigger-measure = { $what } for { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-trigger-health = band { $what } for { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-trigger-condition = { $what } for { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-action-task = { $kind } task "{ $title }" for the owner
playbook-due-in = due { $days ->
    [0] the same day
    [one] in 1 day
   *[other] in { $days } days
}
playbook-action-tag = tag "{ $tag }"
playbook-action-untag = remove tag "{ $tag }"
playbook-switched = Last switched
playbook-choice-existing = Enrol the accounts that already match
playbook-choice-new = Only new occurrences count
playbook-choice-keep = Keep its open tasks
playbook-choice-close = Close its open tasks
playbook-turn-on = Switch on
playbook-turn-off = Switch off
playbook-enrol = Accounts that already match
playbook-open-tasks = Its open tasks
playbook-preview-hint = Switching on steps every account through the last weeks first.
playbook-preview = Count what it would do today
playbook-will-act = { $n ->
    [0] acts for no account today
    [one] acts for 1 account today
   *[other] acts for { $n } accounts today
} ({ $tasks ->
    [0] no task
    [one] 1 task
   *[other] { $tasks } tasks
})
playbook-will-act-new = { $n ->
    [0] acts for no account today
    [one] acts for 1 account today
   *[other] acts for { $n } accounts today
}
playbook-simulation = What it would have done in the last 90 days
playbook-simulation-hint = Runs the playbook over the last 90 days as if it had been switched on then: every action, for which account, on which day, and why. Nothing is acted on.
playbook-simulate = Simulate the last 90 days
playbook-simulated = { $n ->
    [one] 1 action in 90 days.
   *[other] { $n } actions in 90 days.
}
playbook-simulated-none = It would not have acted in the last 90 days.
playbook-why = Why
playbook-cleared = cleared: close its open tasks
playbook-runs = Runs
playbook-runs-none = It has not acted yet.
playbook-outcome = Outcome
playbook-due-on = due { $day }
playbook-why-score = score { $score } ({ $band })
playbook-why-segment = in segment { $segment }
playbook-why-stage = in stage { $stage }
playbook-why-event = { $n } × { $event }
playbook-why-manual = started by hand by { $by }
playbook-why-interaction = an interaction was logged
playbook-why-held = for { $days ->
    [one] 1 day
   *[other] { $days } days
}
notification-playbook = { $title } (playbook { $playbook })
playbook-action-notify = tell the owner: "{ $message }"
playbook-action-notify-email = tell the owner in the app and by e-mail: "{ $message }"
playbook-action-assign = make { $member } the owner
playbook-action-stage = move to stage { $stage } (unless a lifecycle rule holds the account)
playbook-action-webhook = call the webhook { $url }
email-playbook-subject = { $account }: { $message }
email-playbook-intro = Playbook "{ $playbook }" fired for { $account } on { $day }.
email-playbook-open = Open the account
playbook-action-wait = wait { $days ->
    [one] 1 day
   *[other] { $days } days
}
playbook-action-branch = if { $condition }: { $then }{ $otherwise ->
    [none] {""}
   *[other] ; otherwise: { $otherwise }
}
playbook-branch-held = { $condition } held: its then steps
playbook-branch-not-held = { $condition } did not hold: its otherwise steps
playbook-wait-until = then wait until { $day }
playbook-waiting-until = waiting until { $day }
playbook-nothing = nothing
playbook-action-start = start playbook "{ $playbook }"
playbook-why-started = started by playbook { $playbook }
playbook-action-assign-turn = make the next of { $members } the owner, in turn
playbook-action-assign-rules = make the owner the first that holds of: { $rules }
playbook-trigger-left-segment = leaves segment { $what }
playbook-trigger-schedule = on schedule: { $what }
playbook-why-left-segment = left segment { $segment }
playbook-every-day = every day
playbook-every-month = the first of each month
playbook-every-monday = every Monday
playbook-every-tuesday = every Tuesday
playbook-every-wednesday = every Wednesday
playbook-every-thursday = every Thursday
playbook-every-friday = every Friday
playbook-every-saturday = every Saturday
playbook-every-sunday = every Sunday
playbook-kind-left-segment = The account leaves a segment
playbook-kind-schedule = On a schedule (the condition picks the accounts)
playbook-every = Schedule
playbook-action-email-owner = e-mail the owner: "{ $subject }"
playbook-action-email-contacts = e-mail the contacts: "{ $subject }"
email-unsubscribe = Unsubscribe from these e-mails
unsubscribe-title = Unsubscribe
unsubscribe-ask = Stop the e-mails { $email } gets from this customer success team?
unsubscribe-button = Unsubscribe
unsubscribe-done = { $email } is unsubscribed: no more of these e-mails will be sent.
unsubscribe-invalid = This unsubscribe link is not valid. Use the link of a recent e-mail.
playbook-trigger-no-event = no usage for { $days } days
playbook-trigger-no-named-event = no "{ $what }" event for { $days } days
playbook-trigger-no-interaction = no interaction for { $days } days
playbook-why-no-event = quiet for { $days } days
playbook-why-no-interaction = no interaction for { $days } days
playbook-kind-no-event = No usage event (or none of one name) for some days
playbook-kind-no-interaction = No interaction logged for some days
playbook-event = Event (a usage event's name, or a Stripe event type such as invoice.payment_failed)
playbook-event-any = any event
playbook-kind-event = A usage event reaches the account
playbook-kind-interaction = An interaction is logged
playbook-kind-stripe-event = A Stripe event reaches the account
playbook-trigger-stripe-event = Stripe sends "{ $what }" for the account
playbook-why-stripe-event = Stripe sent { $event }
playbook-trigger-if = { $trigger }, if { $condition }

# The accounts list (issue 19)
accounts-export = Export CSV
accounts-export-hint = Every account the filter shows, as keepwell import accounts reads it back
accounts-columns = Columns
accounts-columns-apply = Show these columns
accounts-never-active = never
column-name = Name
column-health = Health
column-coverage = Coverage
column-mrr = MRR
column-arr = ARR
column-renews_on = Renewal
column-last_active_on = Last activity
column-owner = Owner
column-lifecycle_stage = Stage
column-country = Country
column-plan = Plan
column-employees = Employees
column-tags = Tags
in-days = { $n ->
    [0] today
    [1] in 1 day
   *[other] in { $n } days
}
days-ago = { $n ->
    [0] today
    [1] yesterday
   *[other] { $n } days ago
}
param-q = Search
param-owner = Owner
param-stage = Stage
param-tag = Tag
param-country = Country
param-band = Health
param-sort = Sort
param-limit = Page size
param-cursor = Page
bulk-title = Act on the chosen accounts
bulk-select-page = Choose every account on this page
bulk-all = { $count ->
    [one] the one account matching the filter, instead of those chosen
   *[other] all { $count } accounts matching the filter, instead of those chosen
}
bulk-choose = Choose…
bulk-choose-member = Choose a member…
bulk-action-tag = Add a tag
bulk-action-owner = Assign an owner
bulk-action-task = Create a task
bulk-apply = Apply
bulk-field-action = Action
bulk-field-tag = Tag
bulk-field-owner_id = Owner
bulk-field-title = Task title
bulk-field-kind = Kind
bulk-field-due_on = Due
bulk-field-ids = Accounts
bulk-field-all = All matching
bulk-field-account_id = Account
bulk-field-source = Source
bulk-field-priority = Priority
bulk-field- = Input
bulk-no-action = Choose what to do with the accounts.
bulk-no-owner = Choose the member who will own the accounts.
bulk-forbidden = Your role may not do that: ask a manager.
bulk-failed = Nothing was changed. { $reason }
bulk-done = { $matched ->
    [one] Done: { $changed } of 1 account changed.
   *[other] Done: { $changed } of { $matched } accounts changed.
}
bulk-unchanged = { $count ->
    [one] 1 already was so.
   *[other] { $count } already were so.
}
bulk-refused = { $count ->
    [one] 1 account you may not change was left as it was.
   *[other] { $count } accounts you may not change were left as they were.
}
accounts-no-rate = no FX rate
accounts-no-rate-hint = No { $currency } rate for this month or before: add one under Revenue so this account sorts among the others by MRR.

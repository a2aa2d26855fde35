# The annex's messages (ru).

annex-title = Данные по ЦУР в разбивке по миграционному статусу: статистическое приложение
annex-subtitle = Показатели национальной системы, величины, рассчитанные по данным, опубликованным ведомствами, и их определения.
annex-page-of = Страница { $page } из { $pages }
annex-footer = Версия хранилища { $version } (представление: { $view })
annex-goal-heading = { $number }. { $title }
annex-suppressed = Конфиденциально
annex-all-goals = Все цели

## Sheet names (at most 31 characters).
annex-sheet-summary = Сводка
annex-sheet-definitions = Определения
annex-sheet-areas = Территории
annex-sheet-publications = Публикации

## The summary.
annex-store-version = Версия хранилища
annex-view = Представление хранилища
annex-committed = Версия записана
annex-framework-version = Версия системы показателей
annex-generated = Приложение сформировано
annex-headline-produced = Из производимых показателей (основной показатель)
annex-summary-note = Для каждой цели есть лист с её показателями; лист «Определения» объясняет, что означает каждая величина. В столбцах, название которых начинается со слова «Код», находятся коды для машинной обработки.
annex-col-measured-against = По отношению к
annex-col-with-migration = С разбивкой по миграционному статусу
annex-col-out-of = Всего
annex-col-share = Доля
annex-col-goal = Цель
annex-col-in-scope = В охвате
annex-col-indicators = Показатели

## The definitions.
annex-definitions-title = Что означают величины
annex-definitions-note = Определение простым языком предназначено для читателей. Техническое определение — точное правило расчёта каждой величины, на английском языке, в том виде, в каком его публикует каждый результат (см. также docs/figures.md).
annex-col-figure = Величина
annex-col-plain = Определение простым языком
annex-col-technical = Техническое определение
annex-col-figure-name = Имя в API

## The goal sheets.
annex-col-indicator-code = Код показателя
annex-col-indicator = Показатель
annex-col-disaggregation-status = Состояние разбивки
annex-col-series = Ряд последнего значения
annex-col-latest-value = Последнее значение (по стране)
annex-col-unit = Единица измерения
annex-col-year = Год
annex-col-source = Источник
annex-col-breakdowns = Имеющиеся разбивки
annex-col-migrants = Мигранты
annex-col-non-migrants = Немигранты
annex-col-gap-year = Год разрыва
annex-col-series-code = Код ряда
annex-col-unit-code = Код единицы
annex-col-agency-code = Код ведомства

## The areas.
annex-col-area = Территория
annex-col-area-code = Код территории
annex-col-produced = Производится
annex-col-headline = Основной показатель
annex-col-reported = С данными
annex-col-reporting-share = Доля с данными
annex-areas-with-data = Территории с данными по показателям, связанным с миграцией
annex-areas-without = Без данных: { $areas }
annex-headline-across-areas = Основной показатель по территориям
annex-areas-with-share = { $count ->
    [one] { $count } территория с долей
    [few] { $count } территории с долей
   *[other] { $count } территорий с долей
}
annex-minimum = Минимум
annex-lower-quartile = Нижний квартиль
annex-median = Медиана
annex-upper-quartile = Верхний квартиль
annex-maximum = Максимум
annex-col-band = Интервал основного показателя
annex-col-areas-count = Территории
annex-col-areas = Какие
annex-band-no-data = Ничего не производится (доли нет)
annex-band-0 = 0 %
annex-band-0-25 = Больше 0 %, меньше 25 %
annex-band-25-50 = От 25 % до менее 50 %
annex-band-50-75 = От 50 % до менее 75 %
annex-band-75-100 = От 75 % до менее 100 %
annex-band-100 = 100 %
annex-col-areas-producing = Территории, где он производится
annex-across-left-out = { $count } из { $total } показателей не производятся ни в одной из сравниваемых территорий и в эту таблицу не включены.
annex-col-areas-with-migration = Территории с разбивкой по миграционному статусу
annex-col-areas-compared = Сравниваемые территории
annex-col-areas-with-migration-names = Какие территории дают разбивку по миграционному статусу

## The publications.
annex-publications-title = Использованные публикации
annex-col-agency = Ведомство
annex-col-dataset = Набор данных
annex-col-dataset-title = Название
annex-col-rows = Строки
annex-col-received = Получена
annex-col-store-version = Версия хранилища
annex-col-publication = Публикация
annex-col-content-hash = Хеш содержимого

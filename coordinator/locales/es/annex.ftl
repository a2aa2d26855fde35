# The annex's messages (es).

annex-title = Datos de los ODS desglosados por situación migratoria: anexo estadístico
annex-subtitle = Los indicadores del marco nacional, las cifras calculadas a partir de los datos publicados por los organismos y sus definiciones.
annex-page-of = Página { $page } de { $pages }
annex-footer = Versión { $version } del almacén (vista { $view })
annex-goal-heading = { $number }: { $title }
annex-suppressed = Confidencial
annex-all-goals = Todos los objetivos

## Sheet names (at most 31 characters).
annex-sheet-summary = Resumen
annex-sheet-definitions = Definiciones
annex-sheet-areas = Territorios
annex-sheet-publications = Publicaciones

## The summary.
annex-store-version = Versión del almacén
annex-view = Vista del almacén
annex-committed = Versión registrada el
annex-framework-version = Versión del marco
annex-generated = Anexo generado el
annex-headline-produced = De los indicadores producidos (indicador principal)
annex-summary-note = Cada objetivo tiene una hoja con sus indicadores; la hoja Definiciones explica qué significa cada cifra. Las columnas cuyo nombre empieza por «Código» contienen los códigos que leen las máquinas.
annex-col-measured-against = Respecto de
annex-col-with-migration = Con desglose por situación migratoria
annex-col-out-of = De un total de
annex-col-share = Proporción
annex-col-goal = Objetivo
annex-col-in-scope = En el ámbito
annex-col-indicators = Indicadores

## The definitions.
annex-definitions-title = Qué significan las cifras
annex-definitions-note = La definición en lenguaje sencillo es para los lectores. La definición técnica es la regla exacta con la que se calcula cada cifra, en inglés, tal como la publica cada resultado (véase también docs/figures.md).
annex-col-figure = Cifra
annex-col-plain = Definición en lenguaje sencillo
annex-col-technical = Definición técnica
annex-col-figure-name = Nombre en la API

## The goal sheets.
annex-col-indicator-code = Código del indicador
annex-col-indicator = Indicador
annex-col-disaggregation-status = Estado del desglose
annex-col-series = Serie del último valor
annex-col-latest-value = Último valor (nacional)
annex-col-unit = Unidad
annex-col-year = Año
annex-col-source = Fuente
annex-col-breakdowns = Desgloses con datos
annex-col-migrants = Migrantes
annex-col-non-migrants = No migrantes
annex-col-gap-year = Año de la brecha
annex-col-series-code = Código de la serie
annex-col-unit-code = Código de la unidad
annex-col-agency-code = Código del organismo

## The areas.
annex-col-area = Territorio
annex-col-area-code = Código del territorio
annex-col-produced = Producidos
annex-col-headline = Indicador principal
annex-col-reported = Con datos
annex-col-reporting-share = Proporción con datos
annex-areas-with-data = Territorios con datos sobre los indicadores relacionados con la migración
annex-areas-without = Sin datos: { $areas }
annex-headline-across-areas = El indicador principal entre territorios
annex-areas-with-share = { $count ->
    [one] { $count } territorio con proporción
   *[other] { $count } territorios con proporción
}
annex-minimum = Mínimo
annex-lower-quartile = Primer cuartil
annex-median = Mediana
annex-upper-quartile = Tercer cuartil
annex-maximum = Máximo
annex-col-band = Tramo del indicador principal
annex-col-areas-count = Territorios
annex-col-areas = Cuáles
annex-band-no-data = Nada producido (sin proporción)
annex-band-0 = 0 %
annex-band-0-25 = Más del 0 %, menos del 25 %
annex-band-25-50 = Del 25 % a menos del 50 %
annex-band-50-75 = Del 50 % a menos del 75 %
annex-band-75-100 = Del 75 % a menos del 100 %
annex-band-100 = 100 %
annex-col-areas-producing = Territorios que lo producen
annex-across-left-out = { $count } de { $total } indicadores no se producen en ninguna de las zonas comparadas y no figuran en esta tabla.
annex-col-areas-with-migration = Territorios con desglose por situación migratoria
annex-col-areas-compared = Territorios comparados
annex-col-areas-with-migration-names = Territorios que lo desglosan por situación migratoria

## The publications.
annex-publications-title = Las publicaciones leídas
annex-col-agency = Organismo
annex-col-dataset = Conjunto de datos
annex-col-dataset-title = Título
annex-col-rows = Filas
annex-col-received = Recibida el
annex-col-store-version = Versión del almacén
annex-col-publication = Publicación
annex-col-content-hash = Huella del contenido

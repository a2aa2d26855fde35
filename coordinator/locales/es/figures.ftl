# Título y definición en lenguaje sencillo de cada cifra.

figure-migration-disaggregation-share-title = Proporción de indicadores de los ODS producidos con desglose por situación migratoria
figure-migration-disaggregation-share-plain = De los indicadores de los ODS que produce el país, la parte que puede desglosarse por situación migratoria, de modo que las cifras sobre migrantes se distingan de las del resto de la población. Un indicador se considera producido cuando se ha publicado al menos un valor suyo para los años indicados; los valores ocultos (confidenciales) cuentan, los valores faltantes no. Se excluyen los indicadores que el país no sigue.
figure-migration-disaggregation-share-variants = El mismo recuento, respecto de otros dos totales
figure-migration-disaggregation-share-variant-relevant = De los indicadores en los que la situación migratoria es pertinente
figure-migration-disaggregation-share-variant-all = De todos los indicadores del marco nacional (cobertura nacional)
figure-reporting-status-title = Estado de la publicación
figure-reporting-status-plain = Cuántos indicadores del marco nacional tienen datos publicados para los años indicados, en total y para cada objetivo.
figure-disaggregation-status-title = Estado del desglose
figure-disaggregation-status-plain = Para cada indicador, si sus datos están desglosados de todas las maneras que pide el marco (por ejemplo por sexo, edad o situación migratoria): por completo, en parte, todavía no, o no procede cuando no se pide ningún desglose.
figure-coverage-matrix-title = Cobertura de los desgloses
figure-coverage-matrix-plain = Para cada indicador con datos, qué desgloses contienen sus datos publicados: sexo, edad, situación migratoria, discapacidad, zona urbana o rural, grupo de ingresos o riqueza y zonas subnacionales.
figure-migrant-gap-title = Brecha entre migrantes y no migrantes
figure-migrant-gap-plain = Cuando la misma fuente publica un valor para los migrantes y otro para los no migrantes, para el mismo indicador, año y zona y sin otro desglose: ambos valores, su diferencia (migrantes menos no migrantes) y su razón.
figure-agency-completeness-title = Exhaustividad y puntualidad de los organismos
figure-agency-completeness-plain = Para cada organismo, la parte de los informes que debe según el calendario de presentación que han llegado (exhaustividad) y la parte que llegó antes del final del día de vencimiento (puntualidad). Los informes que aún no vencen no se cuentan.
figure-area-figures-title = Cifras por zona
figure-area-figures-plain = La cifra principal, el estado de la publicación y el estado del desglose calculados para cada zona por separado, contando solo los datos sobre esa zona.
figure-cross-area-title = Cifras entre zonas
figure-cross-area-plain = Cómo se comparan las zonas: para cada indicador, en cuántas zonas se desglosa por situación migratoria; cuántas zonas tienen datos sobre indicadores de migración; y cómo se distribuyen entre zonas las proporciones de la cifra principal.

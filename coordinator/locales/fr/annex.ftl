# The annex's messages (fr).

annex-title = Données ODD ventilées par statut migratoire : annexe statistique
annex-subtitle = Les indicateurs du cadre national, les indicateurs de suivi calculés à partir des données publiées par les organismes, et leurs définitions.
annex-page-of = Page { $page } sur { $pages }
annex-footer = Version { $version } de l’entrepôt (vue { $view })
annex-goal-heading = { $number } : { $title }
annex-suppressed = Confidentiel
annex-all-goals = Tous les objectifs

## Sheet names (at most 31 characters).
annex-sheet-summary = Synthèse
annex-sheet-definitions = Définitions
annex-sheet-areas = Territoires
annex-sheet-publications = Publications

## The summary.
annex-store-version = Version de l’entrepôt
annex-view = Vue de l’entrepôt
annex-committed = Version enregistrée le
annex-framework-version = Version du cadre
annex-generated = Annexe produite le
annex-headline-produced = Parmi les indicateurs produits (indicateur principal)
annex-summary-note = Chaque objectif a sa feuille, qui liste ses indicateurs ; la feuille Définitions explique chaque indicateur de suivi. Les colonnes dont le nom commence par « Code » contiennent les codes lus par les machines.
annex-col-measured-against = Rapporté à
annex-col-with-migration = Avec ventilation par statut migratoire
annex-col-out-of = Sur
annex-col-share = Part
annex-col-goal = Objectif
annex-col-in-scope = Dans le champ
annex-col-indicators = Indicateurs

## The definitions.
annex-definitions-title = Ce que mesurent les indicateurs de suivi
annex-definitions-note = La définition en langage courant s’adresse aux lecteurs. La définition technique est la règle exacte de calcul, en anglais, telle que chaque résultat la publie (voir aussi docs/figures.md).
annex-col-figure = Indicateur de suivi
annex-col-plain = Définition en langage courant
annex-col-technical = Définition technique
annex-col-figure-name = Nom dans l’API

## The goal sheets.
annex-col-indicator-code = Code de l’indicateur
annex-col-indicator = Indicateur
annex-col-disaggregation-status = État de la ventilation
annex-col-series = Série de la dernière valeur
annex-col-latest-value = Dernière valeur (nationale)
annex-col-unit = Unité
annex-col-year = Année
annex-col-source = Source
annex-col-breakdowns = Ventilations disponibles
annex-col-migrants = Migrants
annex-col-non-migrants = Non-migrants
annex-col-gap-year = Année de l’écart
annex-col-series-code = Code de la série
annex-col-unit-code = Code de l’unité
annex-col-agency-code = Code de l’organisme

## The areas.
annex-col-area = Territoire
annex-col-area-code = Code du territoire
annex-col-produced = Produits
annex-col-headline = Indicateur principal
annex-col-reported = Renseignés
annex-col-reporting-share = Part renseignée
annex-areas-with-data = Territoires disposant de données sur les indicateurs liés à la migration
annex-areas-without = Sans données : { $areas }
annex-headline-across-areas = L’indicateur principal d’un territoire à l’autre
annex-areas-with-share = { $count ->
    [one] { $count } territoire avec une part
   *[other] { $count } territoires avec une part
}
annex-minimum = Minimum
annex-lower-quartile = Premier quartile
annex-median = Médiane
annex-upper-quartile = Troisième quartile
annex-maximum = Maximum
annex-col-band = Tranche de l’indicateur principal
annex-col-areas-count = Territoires
annex-col-areas = Lesquels
annex-band-no-data = Rien de produit (pas de part)
annex-band-0 = 0 %
annex-band-0-25 = Plus de 0 %, moins de 25 %
annex-band-25-50 = De 25 % à moins de 50 %
annex-band-50-75 = De 50 % à moins de 75 %
annex-band-75-100 = De 75 % à moins de 100 %
annex-band-100 = 100 %
annex-col-areas-producing = Territoires qui le produisent
annex-across-left-out = { $count } des { $total } indicateurs ne sont produits dans aucune des zones comparées et ne figurent pas dans ce tableau.
annex-col-areas-with-migration = Territoires avec ventilation par statut migratoire
annex-col-areas-compared = Territoires comparés
annex-col-areas-with-migration-names = Territoires qui le ventilent par statut migratoire

## The publications.
annex-publications-title = Les publications lues
annex-col-agency = Organisme
annex-col-dataset = Jeu de données
annex-col-dataset-title = Titre
annex-col-rows = Lignes
annex-col-received = Reçue le
annex-col-store-version = Version de l’entrepôt
annex-col-publication = Publication
annex-col-content-hash = Empreinte du contenu

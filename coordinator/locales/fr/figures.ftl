# Titre et définition en langage courant de chaque indicateur de suivi.

figure-migration-disaggregation-share-title = Proportion des indicateurs ODD produits avec une ventilation par statut migratoire
figure-migration-disaggregation-share-plain = Parmi les indicateurs ODD que le pays produit, la part qui peut être ventilée par statut migratoire, afin de distinguer les chiffres concernant les migrants de ceux concernant le reste de la population. Un indicateur est produit lorsqu'au moins une de ses valeurs a été publiée pour les années indiquées ; les valeurs masquées (confidentielles) comptent, les valeurs manquantes non. Les indicateurs que le pays ne suit pas sont exclus.
figure-migration-disaggregation-share-variants = Le même décompte, rapporté à deux autres totaux
figure-migration-disaggregation-share-variant-relevant = Parmi les indicateurs pour lesquels le statut migratoire est pertinent
figure-migration-disaggregation-share-variant-all = Parmi tous les indicateurs du cadre national (couverture nationale)
figure-reporting-status-title = État de la publication
figure-reporting-status-plain = Combien d'indicateurs du cadre national disposent de données publiées pour les années indiquées, au total et pour chaque objectif.
figure-disaggregation-status-title = État de la ventilation
figure-disaggregation-status-plain = Pour chaque indicateur, si ses données sont ventilées de toutes les manières demandées par le cadre (par exemple par sexe, âge ou statut migratoire) : complètement, en partie, pas encore, ou sans objet lorsqu'aucune ventilation n'est demandée.
figure-coverage-matrix-title = Couverture des ventilations
figure-coverage-matrix-plain = Pour chaque indicateur disposant de données, les ventilations que contiennent ses données publiées : sexe, âge, statut migratoire, handicap, milieu urbain ou rural, groupe de revenu ou de patrimoine, et zones infranationales.
figure-migrant-gap-title = Écart entre migrants et non-migrants
figure-migrant-gap-plain = Lorsque la même source publie une valeur pour les migrants et une pour les non-migrants, pour le même indicateur, la même année et la même zone et sans autre ventilation : les deux valeurs côte à côte, leur différence (migrants moins non-migrants) et leur rapport.
figure-agency-completeness-title = Exhaustivité et ponctualité des organismes
figure-agency-completeness-plain = Pour chaque organisme, la part des rapports dus selon le calendrier de déclaration qui sont arrivés (exhaustivité) et la part arrivée avant la fin du jour d'échéance (ponctualité). Les rapports non encore dus ne sont pas comptés.
figure-area-figures-title = Indicateurs par zone
figure-area-figures-plain = L'indicateur principal, l'état de la publication et l'état de la ventilation calculés pour chaque zone séparément, en ne comptant que les données relatives à cette zone.
figure-cross-area-title = Comparaison entre zones
figure-cross-area-plain = Comment les zones se comparent : pour chaque indicateur, dans combien de zones il est ventilé par statut migratoire ; combien de zones disposent de données sur les indicateurs de migration ; et la dispersion des parts de l'indicateur principal entre zones.

# make_replicate_reference.R -- reference results from R's `survey` package for designs given by replicate
# weights (svrepdesign), the reference of indicators/estimation/replicate.py.
#
# Produced with R 4.2.2 and survey 4.1.1 (Debian: apt-get install r-base-core r-cran-survey).
# Run from the repository root:
#     Rscript tests/reference/make_replicate_reference.R
# It reads apiclus1.csv and apistrat.csv from $SURVEY_REFERENCE_DIR (default
# /work/shared/data/survey_reference), and writes under tests/reference/:
#
#   replicate/<design>.csv.gz  one unit-level CSV per replicate design, gzip-compressed (the replicate
#                           weights repeat a few values: 1 MB of text, 35 KB compressed; DuckDB's read_csv and
#                           R's read.csv read it as it is, `gzip -dk` gives the plain CSV): the variables, the full-sample weight `w` and the replicate weights as combined
#                           (analysis) weights, rep1..repR, as R's as.svrepdesign() made them from a
#                           svydesign(). Numbers with 15 significant digits (write.csv): R computes the
#                           reference on the file READ BACK, i.e. on exactly the values the Python tests read.
#     api files (apiclus1_*, apistrat_*): id (snum), cluster (dnum), stype (domain E/H/M), api00 (numeric),
#                           api99 (ratio denominator), sch_wide (0/1: sch.wide == "Yes"), w, rep1..repR
#     generated_*:          id, stratum, psu, region (domain north/centre/south), sex (F/M), score
#                           (numeric), size (ratio denominator, > 0), y01 (0/1 item, ~5 % missing), w,
#                           rep1..repR
#
#   replicate/designs.csv   one row per design, what a user declares to svrepdesign() / `cop estimate
#                           --repweights` (an empty field: not declared, R's default for the type):
#     design                name
#     file                  its unit-level file under replicate/ (.csv.gz)
#     type                  svrepdesign type: JK1, JKn, bootstrap, Fay, BRR
#     rho                   Fay's rho (type Fay only)
#     scale                 the overall scale (declared for JK1 and bootstrap: with an fpc it is not R's
#                           default for the type; BRR and Fay derive it from the replicates and rho)
#     rscales               the replicate scales: one value (every replicate) or the list, ';'-separated
#     mse                   TRUE: variances centred on the full-sample estimate; FALSE: on the mean of the
#                           replicates
#     replicates            the number of replicate columns
#     repweights            the replicate-column regex (R's grep on the column names)
#     y, x, p               the numeric item, the ratio denominator, the 0/1 item
#     domains               the domain columns, ';'-separated
#     contrasts             column:first:second of each contrast, ';'-separated
#
#   replicate_reference.csv R's results on svrepdesign(data = <the file read back>, weights = ~w,
#                           repweights = "rep[0-9]+", type, rho, scale, rscales, combined.weights = TRUE,
#                           mse), columns:
#     design                design name (designs.csv)
#     estimator             design (R's degf(design), scale and rscales: see below), svymean, svytotal,
#                           svyratio, svyciprop_logit, svyby_svymean, svyby_svytotal, svyby_svyratio,
#                           svyby_svyciprop_logit, contrast_difference, contrast_ratio
#     variable              the item: y, y/x (ratio) or p (the 0/1 item), by its column name(s)
#     by                    the domain column ("" for the whole population)
#     level                 the domain ("" for the whole population; "first,second" for a contrast)
#     estimate, se          coef() and SE() of the R object
#     ci_low, ci_high       95 % interval with df = degf(subset(design, !is.na(item) & domain)) (R's degf of
#                           a replicate design: qr(replicate weights, tol = 1e-5)$rank - 1):
#                             svymean/svytotal/svyratio and svyby_*: confint(obj, df = df);
#                             svyciprop_logit: svyciprop(~I(p == 1), subset, method = "logit", df = df), on
#                               the domain's subset as svyby runs it. On a replicate design R fits the
#                               logit model per replicate (svyglm), so the interval is
#                               expit(logit(p) -/+ qt(0.975, df) * sd of the replicate logits), not the
#                               delta method; its SE is the SE of svymean.
#                             contrast_*: svyby(~item, ~by, design, svymean, covmat = TRUE,
#                               return.replicates = TRUE) then svycontrast(, quote(`first` / `second`)) or
#                               quote(`first` - `second`): R computes the contrast on every replicate; the
#                               interval is confint(, df = df) with the df of the units of either domain
#                               with the item observed.
#     df                    the df used for the interval (design rows: degf(design))
#     covariance            contrast rows: the covariance of the two domains' estimates (svyby's covmat)
#     scale                 design rows: the scale R used
#     rscales               design rows: the rscales R used, ';'-separated (one value when all are equal)
# Numbers are written with format(x, digits = 17); NA/NaN as an empty field.

suppressPackageStartupMessages(library(survey))

ref_dir <- file.path("tests", "reference")
if (!dir.exists(ref_dir)) stop("run from the repository root (tests/reference/ not found)")
out_dir <- file.path(ref_dir, "replicate")
dir.create(out_dir, showWarnings = FALSE)
api_dir <- Sys.getenv("SURVEY_REFERENCE_DIR", "/work/shared/data/survey_reference")
options(survey.replicates.mse = FALSE)

# --------------------------------------------------------------------------------------------------
# 1. The source designs (Taylor), turned into replicate designs by as.svrepdesign().
# --------------------------------------------------------------------------------------------------
api <- function(name) {
  d <- read.csv(file.path(api_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  data.frame(id = d$snum, cluster = d$dnum, stype = d$stype, api00 = d$api00, api99 = d$api99,
             sch_wide = as.integer(d$sch.wide == "Yes"), pw = d$pw, fpc = d$fpc)
}
clus1 <- svydesign(id = ~cluster, weights = ~pw, fpc = ~fpc, data = api("apiclus1"))
strat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, fpc = ~fpc, data = api("apistrat"))

# Generated: 12 strata x 2 PSUs, 5-15 units per PSU, unequal weights (a PSU weight times a unit factor),
# a 0/1 item with ~5 % missing, a numeric item, a positive ratio denominator, a 3-level region and a sex.
set.seed(20240515)
psus <- data.frame(stratum = rep(1:12, each = 2), psu = rep(1:2, 12))
psus$units <- sample(5:15, nrow(psus), replace = TRUE)
psus$base <- round(runif(nrow(psus), 20, 80), 1)
units <- psus[rep(seq_len(nrow(psus)), psus$units), ]
n <- nrow(units)
generated <- data.frame(
  id = seq_len(n), stratum = units$stratum, psu = units$stratum * 10 + units$psu,
  region = sample(c("north", "centre", "south"), n, replace = TRUE, prob = c(0.4, 0.35, 0.25)),
  sex = sample(c("F", "M"), n, replace = TRUE),
  score = round(rnorm(n, 50 + 2 * units$stratum, 12), 1),
  size = round(runif(n, 1, 6), 2),
  w = round(units$base * runif(n, 0.6, 1.6), 2))
generated$y01 <- rbinom(n, 1, plogis(-0.8 + 0.08 * units$stratum + 0.5 * (generated$sex == "F")))
generated$y01[sample(n, round(0.05 * n))] <- NA
gen <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = generated)

api_items <- list(y = "api00", x = "api99", p = "sch_wide", domains = "stype", contrasts = list(c("stype", "E", "H")))
gen_items <- list(y = "score", x = "size", p = "y01", domains = c("region", "sex"),
                  contrasts = list(c("sex", "F", "M"), c("region", "north", "south")))
api_columns <- c("id", "cluster", "stype", "api00", "api99", "sch_wide")
gen_columns <- c("id", "stratum", "psu", "region", "sex", "score", "size", "y01")

set.seed(1)
designs <- list(
  list(name = "apiclus1_jk1", rep = as.svrepdesign(clus1, type = "JK1"), columns = api_columns, items = api_items),
  list(name = "apiclus1_bootstrap", rep = as.svrepdesign(clus1, type = "bootstrap", replicates = 50),
       columns = api_columns, items = api_items),
  list(name = "apistrat_jkn", rep = as.svrepdesign(strat, type = "JKn"), columns = api_columns, items = api_items),
  list(name = "apistrat_bootstrap", rep = as.svrepdesign(strat, type = "bootstrap", replicates = 50),
       columns = api_columns, items = api_items),
  list(name = "generated_fay", rep = as.svrepdesign(gen, type = "Fay", fay.rho = 0.5), columns = gen_columns,
       items = gen_items),
  list(name = "generated_brr", rep = as.svrepdesign(gen, type = "BRR"), columns = gen_columns, items = gen_items),
  # mse = TRUE: variances centred on the full-sample estimate; JKn declared with ONE rscales value (all 1/2)
  list(name = "generated_jkn_mse", rep = as.svrepdesign(gen, type = "JKn", mse = TRUE), columns = gen_columns,
       items = gen_items))

# --------------------------------------------------------------------------------------------------
# 2. Write each unit-level file and what a user declares for it; read it back as svrepdesign().
# --------------------------------------------------------------------------------------------------
fmt <- function(v) vapply(v, function(z) if (is.na(z)) "" else format(z, digits = 17), "")
one_or_list <- function(v) if (length(unique(v)) == 1) fmt(v[1]) else paste(fmt(v), collapse = ";")

declared <- list()
for (i in seq_along(designs)) {
  d <- designs[[i]]
  r <- d$rep
  reps <- weights(r, "analysis")
  colnames(reps) <- paste0("rep", seq_len(ncol(reps)))
  units <- cbind(r$variables[, d$columns], w = weights(r, "sampling"), reps)
  file <- paste0(d$name, ".csv.gz")
  write.csv(units, gzfile(file.path(out_dir, file)), row.names = FALSE, na = "")
  rscales <- if (r$type %in% c("JKn")) one_or_list(r$rscales) else ""
  designs[[i]]$declared <- list(
    design = d$name, file = file, type = r$type, rho = if (r$type == "Fay") fmt(r$rho) else "",
    scale = if (r$type %in% c("JK1", "bootstrap")) fmt(r$scale) else "", rscales = rscales,
    mse = as.character(isTRUE(r$mse)), replicates = ncol(reps), repweights = "rep[0-9]+",
    y = d$items$y, x = d$items$x, p = d$items$p, domains = paste(d$items$domains, collapse = ";"),
    contrasts = paste(vapply(d$items$contrasts, paste, "", collapse = ":"), collapse = ";"))
}
write.csv(do.call(rbind, lapply(designs, function(d) as.data.frame(d$declared, stringsAsFactors = FALSE))),
          file.path(out_dir, "designs.csv"), row.names = FALSE, na = "")

# exactly what a user of the replicate weights declares: nothing of the design R made them from
read_back <- function(dec) {
  data <- read.csv(file.path(out_dir, dec$file), stringsAsFactors = FALSE)
  num <- function(s) if (s == "") NULL else as.numeric(strsplit(s, ";")[[1]])
  args <- list(data = data, weights = ~w, repweights = dec$repweights, type = dec$type,
               combined.weights = TRUE, mse = as.logical(dec$mse))
  if (dec$rho != "") args$rho <- num(dec$rho)
  if (dec$scale != "") args$scale <- num(dec$scale)
  if (dec$rscales != "") args$rscales <- num(dec$rscales)
  do.call(svrepdesign, args)
}

# --------------------------------------------------------------------------------------------------
# 3. Estimates.
# --------------------------------------------------------------------------------------------------
rows <- list()
current <- ""
add_row <- function(estimator, variable, by = "", level = "", estimate = NA, se = NA, ci_low = NA,
                    ci_high = NA, df = NA, covariance = NA, scale = "", rscales = "") {
  rows[[length(rows) + 1]] <<- data.frame(
    design = current, estimator = estimator, variable = variable, by = by, level = level,
    estimate = fmt(as.numeric(estimate)), se = fmt(as.numeric(se)), ci_low = fmt(as.numeric(ci_low)),
    ci_high = fmt(as.numeric(ci_high)), df = fmt(as.numeric(df)), covariance = fmt(as.numeric(covariance)),
    scale = scale, rscales = rscales, stringsAsFactors = FALSE)
}

# the units of `des` with every item of `items` observed and (when given) in the domain levels
keep_of <- function(des, items, by = NULL, levels = NULL) {
  v <- des$variables
  keep <- Reduce(`&`, lapply(items, function(i) !is.na(v[[i]])))
  if (!is.null(by)) keep <- keep & !is.na(v[[by]]) & v[[by]] %in% levels
  keep
}
observed_df <- function(des, items, by = NULL, levels = NULL) degf(des[keep_of(des, items, by, levels), ])

add_stat <- function(obj, estimator, variable, df, by = "", level = "") {
  ci <- confint(obj, df = df)
  add_row(estimator, variable, by, level, coef(obj)[1], SE(obj)[1], ci[1, 1], ci[1, 2], df)
}

add_ciprop <- function(des, p, df, estimator, by = "", level = "") {
  obj <- svyciprop(as.formula(sprintf("~I(%s == 1)", p)), des, method = "logit", na.rm = TRUE, df = df)
  ci <- confint(obj)
  add_row(estimator, p, by, level, coef(obj)[1], SE(obj)[1], ci[1, 1], ci[1, 2], df)
}

run_design <- function(des, items) {
  y <- items$y
  x <- items$x
  p <- items$p
  fy <- as.formula(paste0("~", y))
  fx <- as.formula(paste0("~", x))
  ratio_name <- paste0(y, "/", x)
  # whole population
  add_stat(svymean(fy, des, na.rm = TRUE), "svymean", y, observed_df(des, y))
  add_stat(svytotal(fy, des, na.rm = TRUE), "svytotal", y, observed_df(des, y))
  add_stat(svyratio(fy, fx, des, na.rm = TRUE), "svyratio", ratio_name, observed_df(des, c(y, x)))
  add_ciprop(des, p, observed_df(des, p), "svyciprop_logit")
  # domains
  for (by in items$domains) {
    fby <- as.formula(paste0("~", by))
    levels <- sort(unique(na.omit(des$variables[[by]])))
    df_of <- function(item) sapply(levels, function(l) observed_df(des, item, by, l))
    add_by <- function(obj, estimator, variable, dfs) {
      est <- coef(obj)
      se <- SE(obj)
      doms <- as.character(obj[[by]])
      for (k in seq_along(doms)) {
        dk <- dfs[[doms[k]]]
        ci <- est[k] + c(-1, 1) * qt(0.975, dk) * se[k]
        add_row(estimator, variable, by, doms[k], est[k], se[k], ci[1], ci[2], dk)
      }
    }
    y_df <- setNames(df_of(y), levels)
    add_by(svyby(fy, fby, des, svymean, na.rm = TRUE), "svyby_svymean", y, y_df)
    add_by(svyby(fy, fby, des, svytotal, na.rm = TRUE), "svyby_svytotal", y, y_df)
    add_by(svyby(fy, fby, des, svyratio, denominator = fx, na.rm = TRUE), "svyby_svyratio", ratio_name,
           setNames(df_of(c(y, x)), levels))
    p_df <- setNames(df_of(p), levels)
    for (l in levels) {
      sub <- des[!is.na(des$variables[[by]]) & des$variables[[by]] == l, ]
      add_ciprop(sub, p, p_df[[l]], "svyby_svyciprop_logit", by, l)
    }
  }
  # contrasts between two domains, computed by R on every replicate
  for (cst in items$contrasts) {
    by <- cst[1]
    pair <- cst[2:3]
    for (item in c(y, p)) {
      obj <- svyby(as.formula(paste0("~", item)), as.formula(paste0("~", by)), des, svymean, na.rm = TRUE,
                   covmat = TRUE, return.replicates = TRUE)
      df <- observed_df(des, item, by, pair)
      for (k in list(c("contrast_ratio", "/"), c("contrast_difference", "-"))) {
        expr <- parse(text = sprintf("`%s` %s `%s`", pair[1], k[2], pair[2]))[[1]]
        con <- svycontrast(obj, expr)
        ci <- confint(con, df = df)
        add_row(k[1], item, by, paste(pair, collapse = ","), coef(con)[1], SE(con)[1], ci[1, 1], ci[1, 2],
                df, covariance = vcov(obj)[pair[1], pair[2]])
      }
    }
  }
}

for (d in designs) {
  current <- d$name
  des <- read_back(d$declared)
  add_row("design", "", df = degf(des), scale = fmt(des$scale), rscales = one_or_list(des$rscales))
  run_design(des, d$items)
}

# --------------------------------------------------------------------------------------------------
# 4. Write.
# --------------------------------------------------------------------------------------------------
res <- do.call(rbind, rows)
out_path <- file.path(ref_dir, "replicate_reference.csv")
write.csv(res, out_path, row.names = FALSE, na = "")
cat("wrote", out_path, "(", nrow(res), "rows ) and", length(designs), "designs under", out_dir, "\n")
print(table(res$design))

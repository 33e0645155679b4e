# make_reference.R -- reference results from R's `survey` package for the cases the shared
# survey_reference files do not cover: lonely PSUs (every survey.lonely.psu option), strata where a
# domain has a single PSU (survey.adjust.domain.lonely FALSE/TRUE), first-stage fpc (as population
# sizes and as sampling fractions), a missing y estimated with na.rm=TRUE, an item missing in whole PSUs
# and in a whole stratum, a missing domain (by) value, the designs R refuses (missing weights, an fpc
# below the sample, fpc mixing fractions and sizes), gaps between two domains (ratio and difference,
# with their covariance), and the two-stage apiclus2 design split into its stage-1 and full variance.
#
# Produced with R 4.2.2 and survey 4.1.1 (Debian: apt-get install r-base-core r-cran-survey).
# Run from the repository root:
#     Rscript tests/reference/make_reference.R
# It writes (and reads back) tests/reference/small_designs.csv, reads
# /work/shared/data/survey_reference/apiclus2.csv (or $SURVEY_REFERENCE_DIR/apiclus2.csv), and writes
# tests/reference/lonely_psu_reference.csv.
#
# Output columns:
#   case                  design name (see small_designs.csv `design`, or apiclus2_*)
#   lonely_psu            options(survey.lonely.psu=) in force
#   adjust_domain_lonely  options(survey.adjust.domain.lonely=) in force (TRUE/FALSE)
#   estimator             svymean, svytotal, svyratio, svyciprop_logit, svyby_svymean, svyby_svytotal,
#                         svyby_svyratio, svyby_svyciprop_logit, degf, degf_complete, degf_observed,
#                         svydesign (a design R refuses: only `error` is filled),
#                         contrast_ratio, contrast_difference (gaps between domains a and b: see 5b),
#                         (apiclus2: see below)
#   variable              y, y/x, y==1 (apiclus2: api00, api00/api99, sch.wide==Yes)
#   domain                "" for the whole population, else the value of `domain` (svyby ... ~domain)
#   estimate, se          coef() and SE() of the R object
#   ci_low, ci_high       95% interval, with the design degrees of freedom of the units that carry the
#                         item in the domain: df = degf(subset(design, !is.na(y) & domain == d))
#                         (for the whole population subset(design, !is.na(y))); PSUs and strata in which
#                         the item is missing for every unit of the domain do not count:
#                           svymean/svytotal/svyratio and their svyby versions: confint(obj, df = df),
#                             i.e. estimate -/+ qt(0.975, df) * se;
#                           svyciprop_logit: R's own logit interval, svyciprop(..., df = df); for a
#                             domain, svyciprop on the domain's subset (what svyby runs per domain);
#                           contrast_*: confint(svycontrast(...), df = df) with the df of the units in
#                             either domain with the item observed.
#   df                    the df used for the interval (for degf rows: the degf value itself)
#   error                 EXTRA column: the R error message when the call fails (lonely.psu = "fail"),
#                         in which case estimate/se/ci are empty. Empty otherwise.
# Numbers are written with format(x, digits = 17); NA/NaN as an empty field.

suppressPackageStartupMessages(library(survey))

out_dir <- file.path("tests", "reference")
if (!dir.exists(out_dir)) stop("run from the repository root (tests/reference/ not found)")
api_dir <- Sys.getenv("SURVEY_REFERENCE_DIR", "/work/shared/data/survey_reference")

# --------------------------------------------------------------------------------------------------
# 1. The small deterministic data.
#
# Base layout (design `domain_lonely`): 4 strata, PSUs numbered stratum*100 + k, 2-3 units each.
#   stratum 1: PSUs 101 102 103      domain b only in PSU 101  -> b has 1 of 3 PSUs (domain-lonely)
#   stratum 2: PSUs 201 202          domain b only in PSU 201  -> b has 1 of 2 PSUs (domain-lonely)
#   stratum 3: PSUs 301 302 303 304  domain b in 301 302 303   -> b has 3 of 4 PSUs
#   stratum 4: PSUs 401 402          no domain b at all        -> stratum absent from b's subset
# `lonely`       = base without PSU 402: stratum 4 has a single PSU (401).
# `lonely_fpc`   = `lonely` with fpc = PSUs in the stratum's population: 10, 5, 12, 3.
# `lonely_fpc_certain` = `lonely_fpc` but stratum 4's fpc = 1: its PSU is taken with certainty (f = 0).
# `domain_lonely_fpc`  = base with fpc 10, 5, 12, 3.
# `missing_y`    = base with y missing on the single unit of PSU 304 (domain a): after na.rm=TRUE that
#                  PSU has no unit left but still counts in stratum 3's n_h = 4 (a zero PSU total).
# y takes values 0..3 (so y==1 is a proper indicator), x > 0 (ratio denominator), weights unequal.
# --------------------------------------------------------------------------------------------------
base <- data.frame(
  stratum = c(1, 1, 1,  1, 1,  1, 1, 1,   2, 2, 2,  2, 2,   3, 3,  3, 3, 3,  3, 3,  3,   4, 4, 4,  4, 4),
  psu     = c(101, 101, 101, 102, 102, 103, 103, 103,
              201, 201, 201, 202, 202,
              301, 301, 302, 302, 302, 303, 303, 304,
              401, 401, 401, 402, 402),
  weight  = c(10.5, 12.25, 9.75, 11, 14.5, 8.25, 10, 13.75,
              20.5, 18, 22.25, 19.5, 21,
              6.5, 7.25, 5.75, 8, 6, 7.5, 9.25, 6.75,
              30.5, 28, 33.25, 31, 29.5),
  y       = c(1, 0, 2, 1, 3, 0, 1, 1,
              2, 1, 0, 1, 3,
              0, 1, 1, 2, 0, 3, 1, 1,
              1, 2, 0, 1, 0),
  x       = c(2.5, 1.75, 3.25, 2, 4.5, 1.25, 2.75, 3,
              3.5, 2.25, 1.5, 2.75, 4,
              1.5, 2, 2.25, 3.75, 1.25, 4.25, 2.5, 3,
              2.75, 3.5, 1.75, 2.25, 1.5),
  domain  = c("a", "a", "b", "a", "a", "a", "a", "a",
              "a", "b", "b", "a", "a",
              "a", "b", "b", "a", "a", "a", "b", "a",
              "a", "a", "a", "a", "a"),
  stringsAsFactors = FALSE
)
fpc_by_stratum <- c(`1` = 10, `2` = 5, `3` = 12, `4` = 3)

make <- function(name, data, fpc = NULL) {
  data$fpc <- if (is.null(fpc)) NA_real_ else unname(fpc[as.character(data$stratum)])
  cbind(design = name, data[, c("stratum", "psu", "weight", "fpc", "y", "x", "domain")])
}
no402 <- base[base$psu != 402, ]
miss <- base
miss$y[miss$psu == 304] <- NA
certain <- fpc_by_stratum
certain["4"] <- 1
# `item_missing`: `lonely` with y missing for every unit of PSUs 102 and 302 and of the whole stratum 2
# (PSUs 201, 202): those PSUs and that stratum carry no observed item, in any domain.
item_missing <- no402
item_missing$y[item_missing$psu %in% c(102, 302) | item_missing$stratum == 2] <- NA
# `fpc_fraction`: `domain_lonely_fpc` with the fpc given as sampling fractions n_h / N_h (R's rule: all
# fpc <= 1 are fractions, popsize = sampsize / fpc); the results must equal domain_lonely_fpc's.
fraction_by_stratum <- c(`1` = 3 / 10, `2` = 2 / 5, `3` = 4 / 12, `4` = 2 / 3)
# `domain_missing`: base with the domain (by) value missing for 3 units and for both units of PSU 202.
domain_missing <- base
domain_missing$domain[c(2, 5, 9)] <- NA
domain_missing$domain[domain_missing$psu == 202] <- NA
# designs R refuses (svydesign() fails):
#   `weight_missing`: base with the weight of rows 3 and 17 missing;
#   `fpc_too_small`: base with stratum 3's fpc 2 (a population of 2 PSUs, 4 sampled);
#   `fpc_mixed`: base with fpc 10, 5, 0.5, 3 (a fraction among population sizes).
weight_missing <- base
weight_missing$weight[c(3, 17)] <- NA
small <- rbind(
  make("lonely", no402),
  make("domain_lonely", base),
  make("lonely_fpc", no402, fpc_by_stratum),
  make("lonely_fpc_certain", no402, certain),
  make("domain_lonely_fpc", base, fpc_by_stratum),
  make("missing_y", miss),
  make("item_missing", item_missing),
  make("item_missing_fpc", item_missing, fpc_by_stratum),
  make("fpc_fraction", base, fraction_by_stratum),
  make("domain_missing", domain_missing),
  make("weight_missing", weight_missing),
  make("fpc_too_small", base, c(`1` = 10, `2` = 5, `3` = 2, `4` = 3)),
  make("fpc_mixed", base, c(`1` = 10, `2` = 5, `3` = 0.5, `4` = 3))
)
small_path <- file.path(out_dir, "small_designs.csv")
write.csv(small, small_path, row.names = FALSE, na = "")
# Read the file back so that R works on exactly the values the Python tests will read
# (a missing domain is written as an empty field and read back as "": make it NA again).
small <- read.csv(small_path, stringsAsFactors = FALSE)
small$domain[small$domain == ""] <- NA

design_of <- function(name) {
  d <- small[small$design == name, ]
  if (all(is.na(d$fpc))) {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d)
  } else {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = d)
  }
}

# --------------------------------------------------------------------------------------------------
# 2. Helpers: one output row, and running a call while recording a failure.
# --------------------------------------------------------------------------------------------------
rows <- list()
settings <- list(case = "", lonely_psu = "", adjust_domain_lonely = "")

add_row <- function(estimator, variable, domain = "", estimate = NA, se = NA,
                    ci_low = NA, ci_high = NA, df = NA, error = "") {
  rows[[length(rows) + 1]] <<- data.frame(
    case = settings$case, lonely_psu = settings$lonely_psu,
    adjust_domain_lonely = settings$adjust_domain_lonely,
    estimator = estimator, variable = variable, domain = domain,
    estimate = as.numeric(estimate), se = as.numeric(se),
    ci_low = as.numeric(ci_low), ci_high = as.numeric(ci_high), df = as.numeric(df),
    error = error, stringsAsFactors = FALSE)
}

# Evaluate `expr`; on an R error write one row carrying the message and return NULL.
# Warnings (lonely-PSU notices) are expected here and muffled.
attempt <- function(expr, estimator, variable, domain = "") {
  tryCatch(withCallingHandlers(expr, warning = function(w) invokeRestart("muffleWarning")),
           error = function(e) {
             add_row(estimator, variable, domain, error = conditionMessage(e))
             NULL
           })
}

# svystat / svyratio: estimate, SE and the t interval with the given df.
add_stat <- function(obj, estimator, variable, df) {
  if (is.null(obj)) return(invisible())
  ci <- confint(obj, df = df)
  add_row(estimator, variable, "", coef(obj)[1], SE(obj)[1], ci[1, 1], ci[1, 2], df)
}

# svyciprop: R's own interval, computed with the df given to svyciprop.
add_ciprop <- function(obj, variable, df, estimator = "svyciprop_logit", domain = "") {
  if (is.null(obj)) return(invisible())
  ci <- confint(obj)
  add_row(estimator, variable, domain, coef(obj)[1], SE(obj)[1], ci[1, 1], ci[1, 2], df)
}

# svyby result: one row per domain, t interval with each domain's df (named by domain).
add_by <- function(obj, estimator, variable, df) {
  if (is.null(obj)) return(invisible())
  doms <- as.character(obj$domain)
  est <- coef(obj)
  se <- SE(obj)
  for (k in seq_along(doms)) {
    if (!(doms[k] %in% names(df))) stop("no df for domain ", doms[k], " in ", settings$case, " ", estimator,
                                         ": ", paste(names(df), collapse = ","), " ", paste(df, collapse = ","))
    dk <- df[[doms[k]]]
    ci <- est[k] + c(-1, 1) * qt(0.975, dk) * se[k]
    add_row(estimator, variable, doms[k], est[k], se[k], ci[1], ci[2], dk)
  }
}

# the design df of the units that carry the item (y observed) in the domain: PSUs minus strata
observed_df <- function(des, domain = NULL) {
  keep <- !is.na(des$variables$y)
  if (!is.null(domain)) keep <- keep & !is.na(des$variables$domain) & des$variables$domain %in% domain
  degf(des[keep, ])
}

# --------------------------------------------------------------------------------------------------
# 3. All estimators for one small design under the options currently set.
# --------------------------------------------------------------------------------------------------
run_small <- function(des, na_rm) {
  df <- degf(des)
  domains <- sort(unique(na.omit(des$variables$domain)))
  # degrees of freedom: whole design, each domain's subset, and the same with the item observed
  add_row("degf", "", "", df, df = df)
  dom_df <- sapply(domains, function(d) degf(des[!is.na(des$variables$domain) & des$variables$domain == d, ]))
  names(dom_df) <- domains
  for (d in domains) add_row("degf", "", d, dom_df[[d]], df = dom_df[[d]])
  obs_df <- observed_df(des)
  dom_obs_df <- sapply(domains, function(d) observed_df(des, d))
  names(dom_obs_df) <- domains
  add_row("degf_observed", "y", "", obs_df, df = obs_df)
  for (d in domains) add_row("degf_observed", "y", d, dom_obs_df[[d]], df = dom_obs_df[[d]])
  if (na_rm) {
    # PSUs minus strata among the units with y observed (kept for the earlier test names)
    add_row("degf_complete", "y", "", obs_df, df = obs_df)
  }

  # whole population
  add_stat(attempt(svymean(~y, des, na.rm = na_rm), "svymean", "y"), "svymean", "y", obs_df)
  add_stat(attempt(svytotal(~y, des, na.rm = na_rm), "svytotal", "y"), "svytotal", "y", obs_df)
  add_stat(attempt(svyratio(~y, ~x, des, na.rm = na_rm), "svyratio", "y/x"), "svyratio", "y/x", obs_df)
  add_ciprop(attempt(svyciprop(~I(y == 1), des, method = "logit", na.rm = na_rm, df = obs_df),
                     "svyciprop_logit", "y==1"), "y==1", obs_df)

  # domains (svyby subsets the design: PSUs without the domain's units keep counting in n_h;
  # units whose domain is missing belong to no domain)
  add_by(attempt(svyby(~y, ~domain, des, svymean, na.rm = na_rm), "svyby_svymean", "y"),
         "svyby_svymean", "y", dom_obs_df)
  add_by(attempt(svyby(~y, ~domain, des, svytotal, na.rm = na_rm), "svyby_svytotal", "y"),
         "svyby_svytotal", "y", dom_obs_df)
  add_by(attempt(svyby(~y, ~domain, des, svyratio, denominator = ~x, na.rm = na_rm),
                 "svyby_svyratio", "y/x"), "svyby_svyratio", "y/x", dom_obs_df)
  # svyciprop per domain, as svyby runs it (on the domain's subset), with the domain's observed df
  for (d in domains) {
    sub <- des[!is.na(des$variables$domain) & des$variables$domain == d, ]
    add_ciprop(attempt(svyciprop(~I(y == 1), sub, method = "logit", na.rm = na_rm, df = dom_obs_df[[d]]),
                       "svyby_svyciprop_logit", "y==1", d),
               "y==1", dom_obs_df[[d]], "svyby_svyciprop_logit", d)
  }
}

# --------------------------------------------------------------------------------------------------
# 3b. Gaps between the two domains of one design: the proportion p_d of y == 1 among the units of
#     domain d with y observed, and the contrasts p_a / p_b and p_a - p_b with their covariance.
#     svyby(..., covmat = TRUE) fails in survey 4.1.1 when y has missing values (inflmats error), so
#     the same linearisation is written as totals over the units of either domain with y observed:
#     svytotal of (y==1)*[a], (y==1)*[b], [a], [b] and svycontrast of the ratios. The design is subset
#     as svymean(na.rm = TRUE) does (n_h of the whole design kept; strata counted for `average` are
#     those with such a unit), and the interval uses that subset's design df.
# --------------------------------------------------------------------------------------------------
run_gaps <- function(des) {
  v <- des$variables
  keep <- !is.na(v$y) & !is.na(v$domain) & v$domain %in% c("a", "b")
  sub <- des[keep, ]
  sub <- update(sub, ya = as.numeric(y == 1 & domain == "a"), yb = as.numeric(y == 1 & domain == "b"),
                na = as.numeric(domain == "a"), nb = as.numeric(domain == "b"))
  totals <- attempt(svytotal(~ya + yb + na + nb, sub), "contrast_ratio", "y==1")
  if (is.null(totals)) return(invisible())
  df <- degf(sub)
  for (k in list(list("contrast_ratio", quote((ya / na) / (yb / nb))),
                 list("contrast_difference", quote(ya / na - yb / nb)))) {
    cst <- svycontrast(totals, k[[2]])
    ci <- confint(cst, df = df)
    add_row(k[[1]], "y==1", "a,b", coef(cst)[1], SE(cst)[1], ci[1, 1], ci[1, 2], df)
  }
}

small_cases <- c("lonely", "domain_lonely", "lonely_fpc", "lonely_fpc_certain",
                 "domain_lonely_fpc", "missing_y", "item_missing", "item_missing_fpc", "fpc_fraction",
                 "domain_missing")
with_missing_y <- c("missing_y", "item_missing", "item_missing_fpc")
gap_cases <- c("lonely", "domain_lonely", "domain_lonely_fpc", "missing_y", "item_missing",
               "item_missing_fpc")
lonely_options <- c("fail", "remove", "adjust", "average", "certainty")

for (case in small_cases) {
  des <- design_of(case)
  for (adl in c(FALSE, TRUE)) {
    for (lp in lonely_options) {
      options(survey.lonely.psu = lp, survey.adjust.domain.lonely = adl)
      settings <- list(case = case, lonely_psu = lp, adjust_domain_lonely = as.character(adl))
      run_small(des, na_rm = (case %in% with_missing_y))
      if (case %in% gap_cases && !adl) run_gaps(des)
    }
  }
}

# designs R refuses: the svydesign() error is the reference
options(survey.lonely.psu = "adjust", survey.adjust.domain.lonely = FALSE)
for (case in c("weight_missing", "fpc_too_small", "fpc_mixed")) {
  settings <- list(case = case, lonely_psu = "adjust", adjust_domain_lonely = "FALSE")
  des <- suppressMessages(capture.output(
    d <- attempt(design_of(case), "svydesign", "")))
  if (!is.null(d)) stop("R accepted the design ", case, ": it was meant to be refused")
}

# --------------------------------------------------------------------------------------------------
# 4. apiclus2 (two-stage: districts, then schools), survey defaults (lonely.psu "fail",
#    adjust.domain.lonely FALSE). Case `apiclus2_full`: fpc at both stages, so the second-stage
#    variance is added. Case `apiclus2_stage1`: the same design with
#    options(survey.ultimate.cluster = TRUE), i.e. the first-stage term only. Their difference in
#    variance is the second-stage term (sum over districts of n1/N1 * within-district variance).
#    (Districts with one sampled school all have fpc2 = 1, so no stage-2 stratum is lonely.)
# --------------------------------------------------------------------------------------------------
apiclus2 <- read.csv(file.path(api_dir, "apiclus2.csv"), stringsAsFactors = FALSE)
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)
for (uc in c(FALSE, TRUE)) {
  options(survey.ultimate.cluster = uc)
  settings <- list(case = if (uc) "apiclus2_stage1" else "apiclus2_full",
                   lonely_psu = "fail", adjust_domain_lonely = "FALSE")
  des <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
  df <- degf(des)
  add_row("degf", "", "", df, df = df)
  add_stat(svymean(~api00, des), "svymean", "api00", df)
  add_stat(svytotal(~api00, des), "svytotal", "api00", df)
  add_stat(svyratio(~api00, ~api99, des), "svyratio", "api00/api99", df)
  add_ciprop(svyciprop(~I(sch.wide == "Yes"), des, method = "logit"), "sch.wide==Yes", df)
  by_mean <- svyby(~api00, ~stype, des, svymean)
  names(by_mean)[names(by_mean) == "stype"] <- "domain"
  stype_df <- sapply(as.character(by_mean$domain), function(s) degf(des[des$variables$stype == s, ]))
  add_by(by_mean, "svyby_svymean", "api00", stype_df)
}
options(survey.ultimate.cluster = FALSE)

# --------------------------------------------------------------------------------------------------
# 5. Write, 17 significant digits.
# --------------------------------------------------------------------------------------------------
res <- do.call(rbind, rows)
fmt <- function(v) vapply(v, function(z) if (is.na(z)) "" else format(z, digits = 17), "")
for (col in c("estimate", "se", "ci_low", "ci_high", "df")) res[[col]] <- fmt(res[[col]])
out_path <- file.path(out_dir, "lonely_psu_reference.csv")
write.csv(res, out_path, row.names = FALSE, na = "")
cat("wrote", small_path, "and", out_path, "(", nrow(res), "rows )\n")
print(table(res$case))

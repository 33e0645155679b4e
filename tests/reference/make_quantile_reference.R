# make_quantile_reference.R -- reference quantiles from R's `survey` package: svyquantile() with its
# survey 4.x defaults (qrule = "math", interval.type = "mean": Woodruff's interval, i.e. a Wald interval
# for the design-based CDF at the estimated quantile, mapped back through the CDF) and ci = TRUE, for
# the whole population and per domain with svyby().
#
# Produced with R 4.2.2 and survey 4.1.1 (Debian: apt-get install r-base-core r-cran-survey).
# Run from the repository root:
#     Rscript tests/reference/make_quantile_reference.R
# It reads tests/reference/small_designs.csv (written by make_reference.R) and apistrat.csv,
# apiclus1.csv, apiclus2.csv from /work/shared/data/survey_reference (or $SURVEY_REFERENCE_DIR),
# and writes tests/reference/quantile_reference.csv.
#
# Cases:
#   apistrat_strat  svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
#   apiclus1_clus1  svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
#   apiclus2_clus2  svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
#                   (weights from the fpcs; enroll is missing for 6 schools)
#     variables api00 and enroll; domains by stype.
#   <small case>    the small designs of small_designs.csv (as make_reference.R builds them:
#                   ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc when given), variable y
#                   (values 0..3: many ties), domains by `domain`.
# Options: survey.lonely.psu = "adjust" (the project's default policy; the api designs have no lonely
# PSU, so it changes nothing there) and survey.adjust.domain.lonely = FALSE (R's default).
#
# Calls (na.rm = TRUE everywhere: a unit with the variable missing is outside):
#   whole population  svyquantile(~v, des, c(0.25, 0.5, 0.75), ci = TRUE, na.rm = TRUE)
#   domains           svyby(~v, ~d, des, svyquantile, quantiles = c(0.25, 0.5, 0.75), ci = TRUE,
#                           na.rm = TRUE, vartype = c("se", "ci"))
#                     svyby runs svyquantile on each domain's subset with no df argument, so each
#                     domain's interval uses degf() of that subset with the variable observed; the
#                     ci_l/ci_u columns (vartype "ci") are that Woodruff interval. (confint() of the
#                     svyby object would instead give coef -/+ qnorm(0.975) * SE: not used here.)
#
# Output columns:
#   case, variable, domain ("" for the whole population), quantile,
#   estimate, se, ci_low, ci_high   coef(), SE() and the interval of the R object
#   df                              degf(subset(des, !is.na(v) & domain)): the df R used
# Numbers are written with format(x, digits = 17); NA/NaN as an empty field (R reports NaN for a
# bound whose CDF bound falls outside [0, 1], and then for the SE too).

suppressPackageStartupMessages(library(survey))

out_dir <- file.path("tests", "reference")
if (!dir.exists(out_dir)) stop("run from the repository root (tests/reference/ not found)")
api_dir <- Sys.getenv("SURVEY_REFERENCE_DIR", "/work/shared/data/survey_reference")
options(survey.lonely.psu = "adjust", survey.adjust.domain.lonely = FALSE)
probabilities <- c(0.25, 0.5, 0.75)

rows <- list()
add_row <- function(case, variable, domain, quantile, estimate, se, ci_low, ci_high, df) {
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, variable = variable, domain = domain, quantile = quantile,
    estimate = as.numeric(estimate), se = as.numeric(se), ci_low = as.numeric(ci_low),
    ci_high = as.numeric(ci_high), df = as.numeric(df), stringsAsFactors = FALSE)
}

# the design df of the units with the variable observed (in the domain): what svyquantile uses
observed_df <- function(des, variable, domain_column = NULL, domain = NULL) {
  keep <- !is.na(des$variables[[variable]])
  if (!is.null(domain)) {
    values <- des$variables[[domain_column]]
    keep <- keep & !is.na(values) & values == domain
  }
  degf(des[keep, ])
}

run_case <- function(case, des, variable, domain_column) {
  formula <- as.formula(paste0("~", variable))
  whole <- svyquantile(formula, des, probabilities, ci = TRUE, na.rm = TRUE)
  table <- whole[[variable]]  # columns quantile, ci.2.5, ci.97.5, se; one row per probability
  df <- observed_df(des, variable)
  for (k in seq_along(probabilities)) {
    add_row(case, variable, "", probabilities[k], table[k, 1], table[k, 4], table[k, 2], table[k, 3], df)
  }
  by_formula <- as.formula(paste0("~", domain_column))
  per_domain <- svyby(formula, by_formula, des, svyquantile, quantiles = probabilities, ci = TRUE,
                      na.rm = TRUE, vartype = c("se", "ci"))
  for (d in as.character(per_domain[[domain_column]])) {
    row <- per_domain[as.character(per_domain[[domain_column]]) == d, ]
    df_d <- observed_df(des, variable, domain_column, d)
    for (p in probabilities) {
      suffix <- paste0(variable, ".", p)
      add_row(case, variable, d, p, row[[suffix]], row[[paste0("se.", suffix)]],
              row[[paste0("ci_l.", suffix)]], row[[paste0("ci_u.", suffix)]], df_d)
    }
  }
}

# ------------------------------------------------------------------------------------------------
# 1. The api samples.
# ------------------------------------------------------------------------------------------------
read_api <- function(name) read.csv(file.path(api_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
apistrat <- read_api("apistrat")
apiclus1 <- read_api("apiclus1")
apiclus2 <- read_api("apiclus2")
api_designs <- list(
  apistrat_strat = svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc),
  apiclus1_clus1 = svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc),
  apiclus2_clus2 = svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
)
for (case in names(api_designs)) {
  for (variable in c("api00", "enroll")) run_case(case, api_designs[[case]], variable, "stype")
}

# ------------------------------------------------------------------------------------------------
# 2. The small designs (see make_reference.R for their layout: lonely PSUs, domains with a single PSU
#    in a stratum, fpc as population sizes and as fractions, y missing in a PSU, in whole PSUs and in a
#    whole stratum, a missing domain value).
# ------------------------------------------------------------------------------------------------
small <- read.csv(file.path(out_dir, "small_designs.csv"), stringsAsFactors = FALSE)
small$domain[small$domain == ""] <- NA
small_cases <- c("lonely", "domain_lonely", "lonely_fpc", "lonely_fpc_certain", "domain_lonely_fpc",
                 "missing_y", "item_missing", "item_missing_fpc", "fpc_fraction", "domain_missing")
for (case in small_cases) {
  d <- small[small$design == case, ]
  des <- if (all(is.na(d$fpc))) {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d)
  } else {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = d)
  }
  withCallingHandlers(run_case(case, des, "y", "domain"),
                      warning = function(w) invokeRestart("muffleWarning"))  # lonely-PSU notices
}

# ------------------------------------------------------------------------------------------------
# 3. Write, 17 significant digits.
# ------------------------------------------------------------------------------------------------
res <- do.call(rbind, rows)
fmt <- function(v) vapply(v, function(z) if (is.na(z)) "" else format(z, digits = 17), "")
for (col in c("estimate", "se", "ci_low", "ci_high", "df")) res[[col]] <- fmt(res[[col]])
out_path <- file.path(out_dir, "quantile_reference.csv")
write.csv(res, out_path, row.names = FALSE, na = "")
cat("wrote", out_path, "(", nrow(res), "rows )\n")
print(table(res$case))

# make_crossing_reference.R -- reference results from R's `survey` package for crossed disaggregations:
# estimates in the cells of sex x age band (girls aged 12-14, ...), as svyby(~y, ~sex + age_band, ...) gives
# them, with each cell's design degrees of freedom and confidence interval.
#
# Produced with R 4.2.2 and survey 4.1.1 (Debian: apt-get install r-base-core r-cran-survey).
# Run from the repository root:
#     Rscript tests/reference/make_crossing_reference.R
# It writes (and reads back) tests/reference/crossing_design.csv, the generated microdata, and writes
# tests/reference/crossing_reference.csv.
#
# The data (set.seed(20261204)): 10 strata x 4 PSUs, 6-14 children per PSU, unequal weights, sex F/M, age band
# 9-11 / 12-14 / 15-17 (the 15-17 band absent from stratum 10), y a 0/1 item with ~6 % missing, x a positive
# numeric item, z a numeric item (hours). Every cell has units in several strata.
#
# Output columns:
#   estimator   svyby_svymean, svyby_svytotal, svyby_svyratio (y/x), svyby_svyciprop_logit (y == 1), degf_observed
#   variable    y, y/x, y==1
#   sex, age_band   the cell ("_T" where the dimension is totalled: the one-way margins and the total are
#               given too, so that a test sees the crossed cells beside their margins)
#   estimate, se  coef() and SE()
#   ci_low, ci_high  95% interval with the cell's design df of the units with y observed,
#               df = degf(subset(design, !is.na(y) & cell)): confint(obj, df = df) for svymean/svytotal/
#               svyratio; svyciprop(method = "logit", df = df) on the cell's subset for the proportion
#   df          the df used
#   n           units of the cell with y observed
# Numbers are written with format(x, digits = 17).

suppressPackageStartupMessages(library(survey))

out_dir <- file.path("tests", "reference")
if (!dir.exists(out_dir)) stop("run from the repository root (tests/reference/ not found)")

set.seed(20261204)
units <- list()
for (h in 1:10) {
  for (k in 1:4) {
    m <- sample(6:14, 1)
    ages <- if (h == 10) c("9-11", "12-14") else c("9-11", "12-14", "15-17")
    age_band <- sample(ages, m, replace = TRUE)
    sex <- sample(c("F", "M"), m, replace = TRUE)
    eta <- -0.4 + 0.3 * (sex == "F") + 0.5 * (age_band == "15-17") - 0.2 * (age_band == "9-11") +
      rnorm(1, 0, 0.4) + (h - 5) * 0.05
    y <- rbinom(m, 1, plogis(eta))
    y[runif(m) < 0.06] <- NA
    units[[length(units) + 1]] <- data.frame(
      stratum = h, psu = h * 100 + k, weight = round(runif(m, 20, 80) * (1 + (h %% 3)), 2),
      sex = sex, age_band = age_band, y = y, x = round(runif(m, 0.5, 3), 2),
      z = round(rgamma(m, shape = 2, rate = 0.8), 2), stringsAsFactors = FALSE)
  }
}
data <- do.call(rbind, units)
path <- file.path(out_dir, "crossing_design.csv")
write.csv(data, path, row.names = FALSE, na = "")
data <- read.csv(path, stringsAsFactors = FALSE)
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = data)

rows <- list()
add_row <- function(estimator, variable, sex, age_band, estimate, se, ci_low, ci_high, df, n) {
  rows[[length(rows) + 1]] <<- data.frame(
    estimator = estimator, variable = variable, sex = sex, age_band = age_band,
    estimate = as.numeric(estimate), se = as.numeric(se), ci_low = as.numeric(ci_low),
    ci_high = as.numeric(ci_high), df = as.numeric(df), n = as.integer(n), stringsAsFactors = FALSE)
}

# the cells: every sex x age band, each sex, each age band, and the total
cells <- list(list("_T", "_T"))
for (s in sort(unique(data$sex))) cells[[length(cells) + 1]] <- list(s, "_T")
for (a in sort(unique(data$age_band))) cells[[length(cells) + 1]] <- list("_T", a)
for (s in sort(unique(data$sex))) for (a in sort(unique(data$age_band))) cells[[length(cells) + 1]] <- list(s, a)

in_cell <- function(v, s, a) {
  (s == "_T" | v$sex == s) & (a == "_T" | v$age_band == a)
}

for (cell in cells) {
  s <- cell[[1]]
  a <- cell[[2]]
  v <- des$variables
  keep <- in_cell(v, s, a) & !is.na(v$y)
  df <- degf(des[keep, ])
  n <- sum(keep)
  sub <- des[in_cell(v, s, a), ]
  add_row("degf_observed", "y", s, a, df, NA, NA, NA, df, n)
  m <- svymean(~y, sub, na.rm = TRUE)
  ci <- confint(m, df = df)
  add_row("svyby_svymean", "y", s, a, coef(m), SE(m), ci[1, 1], ci[1, 2], df, n)
  t <- svytotal(~y, sub, na.rm = TRUE)
  ci <- confint(t, df = df)
  add_row("svyby_svytotal", "y", s, a, coef(t), SE(t), ci[1, 1], ci[1, 2], df, n)
  r <- svyratio(~y, ~x, sub, na.rm = TRUE)
  ci <- confint(r, df = df)
  add_row("svyby_svyratio", "y/x", s, a, coef(r), SE(r), ci[1, 1], ci[1, 2], df, n)
  p <- svyciprop(~I(y == 1), sub, method = "logit", na.rm = TRUE, df = df)
  ci <- confint(p)
  add_row("svyby_svyciprop_logit", "y==1", s, a, coef(p), SE(p), ci[1, 1], ci[1, 2], df, n)
}

# the crossed cells straight from svyby, as a check that the subsets above are what svyby computes
by_cell <- svyby(~y, ~sex + age_band, des, svymean, na.rm = TRUE)
mine <- do.call(rbind, rows)
for (k in seq_len(nrow(by_cell))) {
  got <- mine[mine$estimator == "svyby_svymean" & mine$sex == by_cell$sex[k] & mine$age_band == by_cell$age_band[k], ]
  if (abs(got$estimate - coef(by_cell)[k]) > 1e-12 || abs(got$se - SE(by_cell)[k]) > 1e-12)
    stop("svyby and the cell subset disagree for ", by_cell$sex[k], " ", by_cell$age_band[k])
}

out <- do.call(rbind, rows)
for (col in c("estimate", "se", "ci_low", "ci_high", "df"))
  out[[col]] <- ifelse(is.na(out[[col]]), "", format(out[[col]], digits = 17, trim = TRUE))
write.csv(out, file.path(out_dir, "crossing_reference.csv"), row.names = FALSE, quote = TRUE)
cat("wrote", nrow(out), "rows to", file.path(out_dir, "crossing_reference.csv"), "\n")

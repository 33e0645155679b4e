# make_replicate_delivery.R -- a child-survey delivery that comes with Fay BRR replicate weights (as PISA ships
# its 80 Fay replicates), and R's `survey` results for it, to check the whole path: mapping spec with
# design.replicate_weights -> staging -> survey estimates of the registry.
#
# Produced with R 4.2.2 and survey 4.1.1 (Debian: apt-get install r-base-core r-cran-survey).
# Run from the repository root:
#     Rscript tests/reference/make_replicate_delivery.R
# It writes tests/reference/replicate_delivery/fay_2024.csv (the delivery: SYNTHETIC, set.seed(20261204)) and
# tests/reference/replicate_delivery/fay_2024_reference.csv (SA.1) and fay_2024_quantiles.csv (BC.13-15).
#
# The delivery: 16 strata x 2 PSUs (schools), 8-20 children each, unequal weights `w`; sex F/M, age 9-17, area
# U/R, uses the internet yes/no, bothered online yes/no with ~8 % not answered (empty), hours online on a school
# day in half hours (not asked of non-users, ~5 % not answered). Replicate weights: R's
# as.svrepdesign(type = "Fay", fay.rho = 0.5) of the two-PSUs-per-stratum design (20 replicates: the smallest
# Hadamard matrix for 16 strata), written as full (analysis) weights rw1..rw20. Stratum and school stay in the file
# (the harmonised table keeps them) but the variance uses the replicate weights only.
#
# The results are computed on the delivery read back with
#     svrepdesign(data = d, weights = ~w, repweights = "^rw[0-9]+$", type = "Fay", rho = 0.5,
#                 combined.weights = TRUE)
# (what the mapping spec declares), for SA.1 of the registry: the proportion bothered online among children who use
# the internet (y = bothered == "yes", universe internet == "yes", y missing: outside), in the total and by sex,
# age band (9-11, 12-14, 15-17) and sex x age band:
#   sex, age_band   the cell ("_T" where the dimension is totalled)
#   estimate, se    svymean of the 0/1 item on the cell's subset (na.rm = TRUE)
#   df              degf() of the subset of the cell's units with y observed (rank of their replicate weights - 1)
#   ci_low, ci_high svyciprop(method = "logit", df = df) on the cell's subset
#   n               units of the cell with y observed
# Numbers are written with format(x, digits = 17).

suppressPackageStartupMessages(library(survey))

out_dir <- file.path("tests", "reference", "replicate_delivery")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

set.seed(20261204)
units <- list()
id <- 0
for (h in 1:16) {
  for (k in 1:2) {
    m <- sample(8:20, 1)
    age <- sample(9:17, m, replace = TRUE)
    sex <- sample(c("F", "M"), m, replace = TRUE)
    internet <- ifelse(runif(m) < plogis(0.5 + 0.25 * (age - 9)), "yes", "no")
    eta <- -0.8 + 0.4 * (sex == "F") + 0.12 * (age - 12) + rnorm(1, 0, 0.5)
    bothered <- ifelse(runif(m) < plogis(eta), "yes", "no")
    bothered[internet == "no"] <- ""
    bothered[runif(m) < 0.08] <- ""
    # hours online on a school day, in half hours (many ties, as surveys report), not asked of non-users
    hours <- pmin(round(2 * rgamma(m, shape = 2.2, rate = 0.9 - 0.03 * (age - 9))) / 2, 12)
    hours[internet == "no" | runif(m) < 0.05] <- NA
    units[[length(units) + 1]] <- data.frame(
      child = id + seq_len(m), stratum = sprintf("S%02d", h), school = sprintf("S%02d-%d", h, k),
      w = round(runif(m, 40, 160), 3), sex = sex, age = age,
      area = ifelse(h <= 6, "R", "U"), internet = internet, bothered = bothered, hours = hours,
      stringsAsFactors = FALSE)
    id <- id + m
  }
}
data <- do.call(rbind, units)
design <- svydesign(ids = ~school, strata = ~stratum, weights = ~w, data = data)
fay <- as.svrepdesign(design, type = "Fay", fay.rho = 0.5)
replicates <- weights(fay, "analysis")
colnames(replicates) <- paste0("rw", seq_len(ncol(replicates)))
delivery <- cbind(data, round(replicates, 6))
path <- file.path(out_dir, "fay_2024.csv")
write.csv(delivery, path, row.names = FALSE, na = "")

d <- read.csv(path, stringsAsFactors = FALSE, na.strings = "")
d$y <- ifelse(is.na(d$bothered), NA, as.numeric(d$bothered == "yes"))
d$age_band <- cut(d$age, c(8, 11, 14, 17), labels = c("9-11", "12-14", "15-17"))
des <- svrepdesign(data = d, weights = ~w, repweights = "^rw[0-9]+$", type = "Fay", rho = 0.5,
                   combined.weights = TRUE)

rows <- list()
cells <- list(list("_T", "_T"))
for (s in c("F", "M")) cells[[length(cells) + 1]] <- list(s, "_T")
for (a in c("9-11", "12-14", "15-17")) cells[[length(cells) + 1]] <- list("_T", a)
for (s in c("F", "M")) for (a in c("9-11", "12-14", "15-17")) cells[[length(cells) + 1]] <- list(s, a)
for (cell in cells) {
  s <- cell[[1]]
  a <- cell[[2]]
  inside <- d$internet == "yes" & (s == "_T" | d$sex == s) & (a == "_T" | d$age_band == a)
  sub <- des[inside, ]
  observed <- des[inside & !is.na(d$y), ]
  df <- degf(observed)
  m <- svymean(~y, sub, na.rm = TRUE)
  p <- svyciprop(~y, sub, method = "logit", na.rm = TRUE, df = df)
  ci <- confint(p)
  rows[[length(rows) + 1]] <- data.frame(
    sex = s, age_band = a, estimate = coef(m)[1], se = SE(m)[1], df = df, ci_low = ci[1, 1], ci_high = ci[1, 2],
    n = sum(inside & !is.na(d$y)), stringsAsFactors = FALSE)
}
out <- do.call(rbind, rows)
for (col in c("estimate", "se", "ci_low", "ci_high", "df"))
  out[[col]] <- format(out[[col]], digits = 17, trim = TRUE)
write.csv(out, file.path(out_dir, "fay_2024_reference.csv"), row.names = FALSE, quote = TRUE)

# quantiles of hours online among internet users (BC.13-15: 0.5, 0.25, 0.75), by svyquantile on the replicate
# design with its defaults (qrule "math", interval.type "mean": Woodruff, the SE of the CDF from the replicates),
# in the total and by sex and age band: estimate, se (R's), CI, and the df R used (degf of the cell's units with
# hours observed)
rows <- list()
for (cell in cells[1:6]) {
  s <- cell[[1]]
  a <- cell[[2]]
  inside <- d$internet == "yes" & (s == "_T" | d$sex == s) & (a == "_T" | d$age_band == a)
  sub <- des[inside, ]
  q <- svyquantile(~hours, sub, c(0.25, 0.5, 0.75), ci = TRUE, na.rm = TRUE)
  ci <- confint(q)
  df <- degf(des[inside & !is.na(d$hours), ])
  for (k in 1:3) {
    rows[[length(rows) + 1]] <- data.frame(
      sex = s, age_band = a, quantile = c(0.25, 0.5, 0.75)[k], estimate = coef(q)[k], se = SE(q)[k],
      ci_low = ci[k, 1], ci_high = ci[k, 2], df = df, n = sum(inside & !is.na(d$hours)), stringsAsFactors = FALSE)
  }
}
out <- do.call(rbind, rows)
for (col in c("estimate", "se", "ci_low", "ci_high", "df"))
  out[[col]] <- format(out[[col]], digits = 17, trim = TRUE)
write.csv(out, file.path(out_dir, "fay_2024_quantiles.csv"), row.names = FALSE, quote = TRUE)
cat("wrote", nrow(delivery), "children,", ncol(replicates), "replicates, rho 0.5; the SA.1 and quantile references\n")

# Common Log Format: the status code is the field after the quoted request.
{
  split($0, parts, "\"")
  split(parts[3], rest, " ")
  if (rest[1] ~ /^[0-9][0-9][0-9]$/) count[rest[1]]++
}
END { for (status in count) printf "%s\t%d\n", status, count[status] }

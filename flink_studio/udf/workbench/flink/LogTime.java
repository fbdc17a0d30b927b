package workbench.flink;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * The record contract for the Flink source: a record's event time in UTC when its five fields make
 * it a log, NULL when they do not (the Lambda quarantines it).
 *
 * <p>The rules are those of lambda/record_contract.json, whose values the build packs into this jar
 * (one UTF-8 resource per name, contract/NAME): the same patterns (compiled once, not looked up per record as SQL's REGEXP
 * does), the latency range, a date that exists (no February 30). The timestamp's forms: Z, an offset
 * or none (UTC), T or a space, 0 to 9 fractional digits of which milliseconds count (cut, not
 * rounded), as the Lambda's parse_timestamp. The fields arrive as the text Flink's JSON format gives
 * (a number's digits, a string's characters); the message is only checked for presence, so it is
 * never decoded here.
 */
public final class LogTime extends ScalarFunction {

    private static final Pattern TIMESTAMP = Pattern.compile(contract("timestamp_pattern"));
    private static final Pattern SERVICE = Pattern.compile(contract("service_pattern"));
    private static final Pattern STATUS = Pattern.compile(contract("status_pattern"));
    private static final Pattern LATENCY = Pattern.compile(contract("latency_pattern"));
    private static final double LATENCY_MAX_MS = Double.parseDouble(contract("latency_max_ms"));
    private static final long MS_PER_DAY = 86_400_000L;

    private static String contract(String name) {
        try (InputStream in = LogTime.class.getResourceAsStream("/contract/" + name)) {
            if (in == null) {
                throw new IllegalStateException("contract/" + name + " is missing from the UDF jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public @DataTypeHint(value = "TIMESTAMP(3)", bridgedTo = TimestampData.class) TimestampData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData timestamp,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData service,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData status,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData message,
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData latencyMs) {
        if (timestamp == null || service == null || status == null || message == null || latencyMs == null) {
            return null;
        }
        if (!STATUS.matcher(status.toString()).find() || !SERVICE.matcher(service.toString()).find()) {
            return null;
        }
        String latency = latencyMs.toString();
        if (!LATENCY.matcher(latency).find()) {
            return null;
        }
        double value;
        try {
            value = Double.parseDouble(latency);
        } catch (NumberFormatException e) {
            return null;
        }
        if (!(value >= 0 && value <= LATENCY_MAX_MS)) {
            return null;
        }
        Long epochMs = epochMillis(timestamp.toString());
        return epochMs == null ? null : TimestampData.fromEpochMillis(epochMs);
    }

    /** The UTC instant of a contract timestamp in epoch milliseconds, null when it is not one. */
    static Long epochMillis(String text) {
        Matcher m = TIMESTAMP.matcher(text);
        if (!m.find()) {
            return null;
        }
        String date = m.group(1);
        String time = m.group(2);
        long epochDay;
        try {
            epochDay = LocalDate.of(digits(date, 0, 4), digits(date, 5, 7), digits(date, 8, 10)).toEpochDay();
        } catch (DateTimeException e) {
            return null;
        }
        long ms = epochDay * MS_PER_DAY
                + (digits(time, 0, 2) * 3600L + digits(time, 3, 5) * 60L + digits(time, 6, 8)) * 1000L;
        String fraction = m.group(3);
        if (fraction != null) {
            for (int i = 0, scale = 100; i < 3; i++, scale /= 10) {
                ms += i < fraction.length() ? (fraction.charAt(i) - '0') * scale : 0;
            }
        }
        String zone = m.group(4);
        if (zone != null && zone.length() == 6) {
            int minutes = digits(zone, 1, 3) * 60 + digits(zone, 4, 6);
            ms -= (zone.charAt(0) == '-' ? -minutes : minutes) * 60_000L;
        }
        return ms;
    }

    private static int digits(String text, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            value = value * 10 + (text.charAt(i) - '0');
        }
        return value;
    }
}

// A Java client for the e2e tests: fetches each URL with java.net.http.HttpClient and
// with HttpURLConnection, using only what the JVM reads from its system properties
// (JAVA_TOOL_OPTIONS: proxy, truststore), and prints "status body" per request.
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        for (String url : args) {
            HttpResponse<String> r = client.send(
                HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofString());
            System.out.println("HttpClient " + r.statusCode() + " " + r.body());

            HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
            try (InputStream in = c.getInputStream()) {
                String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                System.out.println("HttpURLConnection " + c.getResponseCode() + " " + body);
            }
        }
    }
}

import java.sql.*;
import java.util.*;

/**
 * Runs statements against finmesh's SQL endpoint with the PostgreSQL JDBC driver and prints one JSON result per line.
 * usage: java -cp postgresql.jar JdbcClient.java <url> <user> <password> <statement|@tables>...
 * "@tables" lists tables through DatabaseMetaData.getTables, the catalog call BI tools make.
 */
public class JdbcClient {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    Connection conn;
    try {
      conn = DriverManager.getConnection(args[0], props);
    } catch (SQLException e) {
      System.out.println("{\"connect_error\":" + quote(e.getMessage()) + "}");
      return;
    }
    try (conn) {
      for (int i = 3; i < args.length; i++) {
        String sql = args[i];
        try {
          ResultSet rs;
          if (sql.equals("@tables")) rs = conn.getMetaData().getTables(null, null, "%", new String[] {"TABLE", "VIEW"});
          else {
            PreparedStatement st = conn.prepareStatement(sql);
            rs = st.executeQuery();
          }
          print(rs, sql.equals("@tables"));
        } catch (SQLException e) {
          System.out.println("{\"error\":{\"sqlstate\":" + quote(e.getSQLState()) + ",\"message\":" + quote(e.getMessage()) + "}}");
        }
      }
    }
  }

  static void print(ResultSet rs, boolean tables) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    StringBuilder out = new StringBuilder("{\"columns\":[");
    int n = md.getColumnCount();
    for (int c = 1; c <= n; c++) out.append(c > 1 ? "," : "").append(quote(md.getColumnLabel(c)));
    out.append("],\"rows\":[");
    boolean first = true;
    while (rs.next()) {
      out.append(first ? "[" : ",[");
      first = false;
      if (tables) out.append(quote(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME")));
      else for (int c = 1; c <= n; c++) out.append(c > 1 ? "," : "").append(quote(rs.getString(c)));
      out.append("]");
    }
    System.out.println(out.append("]}"));
  }

  static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') b.append('\\').append(ch);
      else if (ch == '\n') b.append("\\n");
      else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
      else b.append(ch);
    }
    return b.append('"').toString();
  }
}

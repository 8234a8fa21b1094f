// SPDX-License-Identifier: MIT
// Loads the JNI library generated from bindings/smtpc.i (java/smtpc_java.i) and calls the C API:
// version, a client made through the pointer helpers, a refused argument and its error text.
import org.smtpc.SWIGTYPE_p_p_smtpc_client;
import org.smtpc.SWIGTYPE_p_smtpc_client;
import org.smtpc.protocol;
import org.smtpc.smtpc;
import org.smtpc.status;

public class Main {
    static void check(boolean ok, String what) {
        if (!ok) {
            System.err.println("FAIL: " + what);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        System.loadLibrary("smtpc_java");
        check(smtpc.version().equals(args[0]), "version " + smtpc.version() + " != " + args[0]);
        check(smtpc.version_number() == smtpc.SMTPC_VERSION_NUMBER, "version_number");
        check(smtpc.SMTPC_NTS == -1L, "SMTPC_NTS is (size_t)-1");
        check(smtpc.status_name(status.SMTPC_EINVAL).equals("SMTPC_EINVAL"), "status_name");
        check(smtpc.status_name(-999).equals("SMTPC_UNKNOWN"), "an unknown code is an int, not an exception");
        SWIGTYPE_p_p_smtpc_client out = smtpc.new_client_out();
        check(smtpc.client_new(out, protocol.SMTPC_PROTOCOL_SMTP) == status.SMTPC_OK, "client_new");
        SWIGTYPE_p_smtpc_client c = smtpc.client_out_value(out);
        int st = smtpc.client_set_local_hostname(c, "bad name".getBytes("UTF-8"));
        check(st == status.SMTPC_EINVAL, "client_set_local_hostname refused: " + st);
        check(smtpc.client_errmsg(c).contains("host name"), "errmsg: " + smtpc.client_errmsg(c));
        check(smtpc.client_set_local_hostname(c, "client.test".getBytes("UTF-8")) == status.SMTPC_OK, "hostname");
        check(smtpc.client_local_hostname(c).equals("client.test"), "local_hostname");
        smtpc.client_free(c);
        smtpc.delete_client_out(out);
        System.out.println("java: smtpc " + smtpc.version() + " loaded and called");
    }
}
